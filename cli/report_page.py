"""One self-contained HTML page from classify/batch results, for analysts to read and share.

The markup is `templates/report.html.j2`, rendered by Jinja2 with autoescape on, so every
piece of input text is escaped wherever it lands (text or attribute). This module only
works out what the page shows: counts, chart geometry, rationale pieces. Inline CSS and JS
only, so the page works offline; a 1,000-article report stays quick to open because it is
plain markup (sections off screen are not laid out, and nothing is built by script).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from conflictclf.cli.colours import html_colours
from conflictclf.data.files import atomic_write_text
from conflictclf.data.results import Article, ResultRow, label_order
from conflictclf.data.errors import InputError

CHART_WIDTH, CHART_HEIGHT = 1000, 160
MAX_BAR = 40


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("conflictclf.cli", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("report.html.j2")


def build_report(articles: Sequence[Article], title: str = "conflictclf report", source: str = "",
                 labels: Sequence[str] = ()) -> str:
    """The whole page as one string; `labels` come first in the page's label order."""
    labels = label_order(articles, labels)
    idx = {lab: i for i, lab in enumerate(labels)}
    colours = html_colours(labels)
    counts = [a.counts() for a in articles]
    n_sent = sum(len(a.rows) for a in articles)
    total = sum(counts, Counter())
    none = sum(not r.labels for a in articles for r in a.rows)
    summary = [{"i": i, "label": lab, "sentences": total[lab], "share": _share(total[lab], n_sent),
                "articles": sum(c[lab] > 0 for c in counts)} for lab, i in idx.items()]
    return _template().render(
        title=title, source=source, made=time.strftime("%Y-%m-%d %H:%M"), labels=labels, colours=colours,
        n_sentences=n_sent, summary=summary, no_label={"sentences": none, "share": _share(none, n_sent)},
        chart=_chart(articles, counts, labels, colours),
        articles=[_article(k, a, c, idx) for k, (a, c) in enumerate(zip(articles, counts))],
    )


def write_report(page: str, path: str | Path) -> Path:
    """Write atomically: a reader never sees half a page under the final name."""
    p = Path(path)
    try:
        atomic_write_text(p, page)
    except OSError as exc:
        raise InputError(f"{p}: cannot write ({exc.strerror})") from None
    return p


def _share(n: int, total: int) -> str:
    return f"{n / max(total, 1):.1%}"


def _chart(articles: Sequence[Article], counts: Sequence[Counter], labels: Sequence[str],
           colours: dict[str, str]) -> dict[str, Any]:
    """Stacked bars, one per article, of its sentences per label; each bar links to its article."""
    top = max(max((sum(c[lab] for lab in labels) for c in counts), default=0), 1)
    # a few articles get narrow bars from the left rather than a few wide blocks
    step = min(CHART_WIDTH / max(len(articles), 1), MAX_BAR)
    # gaps between bars a pixel or two wide only flicker at 1,000 articles: bars touch there
    gap = min(step * 0.15, 2.0) if step >= 4 else 0.0
    bars = []
    for k, (a, c) in enumerate(zip(articles, counts)):
        y, rects = float(CHART_HEIGHT), []
        for lab in labels:
            h = c[lab] / top * (CHART_HEIGHT - 10)
            if h > 0:
                y -= h
                rects.append({"x": f"{k * step + gap / 2:.2f}", "y": f"{y:.2f}", "w": f"{max(step - gap, 0.5):.2f}",
                              "h": f"{h:.2f}", "fill": colours[lab]})
        bars.append({"k": k, "tip": f"{a.name}: " + ", ".join(f"{lab} {c[lab]}" for lab in labels), "rects": rects})
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "top": top, "bars": bars}


def _article(k: int, a: Article, counts: Counter, idx: dict[str, int]) -> dict[str, Any]:
    return {"k": k, "name": a.name, "per_label": [counts[lab] for lab in idx],
            "no_label": sum(not r.labels for r in a.rows), "sentences": [_sentence(r, idx) for r in a.rows]}


def _sentence(r: ResultRow, idx: dict[str, int]) -> dict[str, Any]:
    chips = [{"i": idx[lab], "label": lab, "title": f"{lab} {r.scores[lab]:.3f}" if lab in r.scores else ""}
             for lab in r.labels]
    return {"chips": chips, "data": " ".join(str(idx[lab]) for lab in r.labels) or "n",
            "scores": " · ".join(f"{lab} {p:.2f}" for lab, p in r.scores.items()),
            "pieces": _pieces(r.text, r.rationales, idx)}


def _pieces(text: str, rationales: dict[str, list[dict[str, Any]]], idx: dict[str, int]) -> list[dict[str, Any]]:
    """The sentence cut at every rationale edge (so overlapping spans split cleanly); a piece
    inside one or more spans says which labels it supports, and with what weight."""
    spans = [(s["start"], s["end"], lab, s.get("weight")) for lab, ss in rationales.items() if lab in idx for s in ss]
    if not spans:
        return [{"text": text, "why": ""}]
    cuts = sorted({0, len(text), *(p for s, e, _, _ in spans for p in (s, e))})
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        cover = [(lab, w) for s, e, lab, w in spans if s <= a and b <= e]
        why = "; ".join(lab + (f" (weight {w:.2f})" if isinstance(w, (int, float)) else "") for lab, w in cover)
        pieces.append({"text": text[a:b], "why": why, "k": idx[cover[0][0]] if cover else 0, "multi": len(cover) > 1})
    return pieces
