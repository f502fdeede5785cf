"""One self-contained HTML page from classify/batch results, for analysts to read and share.

The markup is `templates/report.html.j2`, rendered by Jinja2 with autoescape on, so every
piece of input text is escaped wherever it lands (text or attribute). This module only
works out what the page shows: counts, chart geometry, rationale pieces. Inline CSS and JS
only, so the page works offline; a 1,000-article report stays quick to open because it is
plain markup (sections off screen are not laid out, and nothing is built by script).
"""

from __future__ import annotations

import json

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
    roles = _roles(r)
    return {"chips": chips, "data": " ".join(str(idx[lab]) for lab in r.labels) or "n",
            "scores": " · ".join(f"{lab} {p:.2f}" for lab, p in r.scores.items()),
            "pieces": _pieces(r.text, r.rationales, idx, roles),
            "roles": [{"role": x["role"], "text": x["text"], "value": _role_value(x)} for x in roles]}


def _roles(r: ResultRow) -> list[dict[str, Any]]:
    """The row's role spans that point into its text (classify --roles, batch --roles); a
    span that does not (a long record's sentence it could not place) is listed, not marked."""
    raw = r.fields.get("roles")
    if isinstance(raw, str):  # Parquet output keeps roles as JSON text
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, list):
        return []
    out = []
    for x in raw:
        if isinstance(x, dict) and isinstance(x.get("role"), str) and isinstance(x.get("text"), str):
            fits = isinstance(x.get("start"), int) and isinstance(x.get("end"), int) and "sentence" not in x \
                and r.text[x["start"]:x["end"]] == x["text"]
            out.append(x | {"marked": fits})
    return out


def _role_value(x: dict[str, Any]) -> str:
    v = x.get("value")
    if not isinstance(v, dict):
        return ""
    if not v.get("resolved"):
        return "unresolved"
    if x["role"] == "time":
        return str(v.get("value")) + ("" if v.get("precision") == "day" else f" ({v.get('precision')})")
    if x["role"] == "place":
        return ", ".join(str(p) for p in (v.get("name"), v.get("country"), v.get("region")) if p)
    low, high = v.get("low"), v.get("high")
    return str(low) if low == high else f"{low}+" if high is None else f"up to {high}" if low is None \
        else f"{low}-{high}"


def _pieces(text: str, rationales: dict[str, list[dict[str, Any]]], idx: dict[str, int],
            roles: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """The sentence cut at every rationale and role edge (so overlapping spans split cleanly);
    a piece inside one or more rationale spans says which labels it supports, and with what
    weight; a piece inside role spans names the roles."""
    spans = [(s["start"], s["end"], lab, s.get("weight")) for lab, ss in rationales.items() if lab in idx for s in ss]
    marks = [(x["start"], x["end"], x["role"]) for x in roles if x["marked"]]
    if not spans and not marks:
        return [{"text": text, "why": "", "roles": ""}]
    cuts = sorted({0, len(text), *(p for s, e, _, _ in spans for p in (s, e)), *(p for s, e, _ in marks for p in (s, e))})
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        cover = [(lab, w) for s, e, lab, w in spans if s <= a and b <= e]
        why = "; ".join(lab + (f" (weight {w:.2f})" if isinstance(w, (int, float)) else "") for lab, w in cover)
        in_roles = ", ".join(dict.fromkeys(role for s, e, role in marks if s <= a and b <= e))
        pieces.append({"text": text[a:b], "why": why, "k": idx[cover[0][0]] if cover else 0, "multi": len(cover) > 1,
                       "roles": in_roles})
    return pieces
