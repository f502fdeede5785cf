"""One self-contained HTML page from classify/batch results, for analysts to read and share.

Every piece of input text goes through `html.escape` (attributes too), labels become
class names by their position (never by their text), and no input reaches the
inline script: it reads the page. Inline CSS and JS only, so the page works offline.
A 1,000-article report stays small and quick because it is plain markup: sections
off screen are not laid out (`content-visibility`), and nothing is built by script.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from conflictclf.model.errors import InputError
from conflictclf.model.report_assets import CSS, FALLBACK_COLOURS, JS, LABEL_COLOURS

# Fields that name the article a row belongs to, in order of preference: `classify`
# writes `source`; `batch` passes the input's fields through (`doc`, `id`, ...).
GROUP_FIELDS = ("source", "doc", "id", "url", "file")
ORDER_FIELDS = ("index", "sentence_index")
CHART_WIDTH, CHART_HEIGHT = 1000, 160
MAX_BAR = 40


@dataclass
class Sentence:
    text: str
    labels: list[str]
    scores: dict[str, float]
    rationales: dict[str, list[dict[str, Any]]]


@dataclass
class Article:
    name: str
    sentences: list[Sentence] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(lab for s in self.sentences for lab in s.labels)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a classify/batch JSONL file; a malformed line is an error naming file and line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, not a results file") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{p}:{n}: invalid JSON ({exc.__class__.__name__})") from None
        if not isinstance(row, dict):
            raise InputError(f"{p}:{n}: expected a JSON object, got {type(row).__name__}")
        rows.append((n, row))
    if not rows:
        raise InputError(f"{p}: holds no results")
    return [row | {"_line": f"{p}:{n}"} for n, row in rows]


def group_articles(rows: Iterable[dict[str, Any]], text_field: str = "text", group_by: str | None = None,
                   default_name: str = "results") -> list[Article]:
    """Rows -> articles in first-seen order, sentences in reading order; rows are checked."""
    rows = list(rows)
    key = group_by or next((f for f in GROUP_FIELDS if rows and f in rows[0]), None)
    articles: dict[str, Article] = {}
    order: dict[str, list[tuple[Any, int, Sentence]]] = {}
    for k, row in enumerate(rows):
        where = row.get("_line", f"row {k + 1}")
        sentence = _sentence(row, text_field, where)
        name = str(row.get(key, default_name)) if key else default_name
        articles.setdefault(name, Article(name))
        pos = next((row[f] for f in ORDER_FIELDS if isinstance(row.get(f), int)), k)
        order.setdefault(name, []).append((pos, k, sentence))
    for name, items in order.items():
        articles[name].sentences = [s for _, _, s in sorted(items, key=lambda x: (x[0], x[1]))]
    return list(articles.values())


def _sentence(row: dict[str, Any], text_field: str, where: str) -> Sentence:
    text = row.get(text_field)
    if not isinstance(text, str):
        problem = "missing" if text is None else f"not a string ({type(text).__name__})"
        raise InputError(f"{where}: text field {text_field!r} is {problem}")
    labels = row.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise InputError(f"{where}: `labels` must be a list of label names")
    scores = row.get("scores") or {}
    if not isinstance(scores, dict) or not all(isinstance(v, (int, float)) for v in scores.values()):
        raise InputError(f"{where}: `scores` must map labels to numbers")
    rats = row.get("rationales") or {}
    if not isinstance(rats, dict):
        raise InputError(f"{where}: `rationales` must map labels to lists of spans")
    for lab, spans in rats.items():
        for r in spans if isinstance(spans, list) else [None]:
            ok = isinstance(r, dict) and isinstance(r.get("start"), int) and isinstance(r.get("end"), int)
            if not ok or not 0 <= r["start"] < r["end"] <= len(text):
                raise InputError(f"{where}: bad rationale span for {lab!r} (need start < end within the text)")
    return Sentence(text, labels, {str(k): float(v) for k, v in scores.items()}, rats)


def label_order(articles: Sequence[Article], known: Sequence[str] = ()) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(known)
    for a in articles:
        for s in a.sentences:
            seen.update(dict.fromkeys(s.scores))
            seen.update(dict.fromkeys(s.labels))
    return list(seen)


def build_report(articles: Sequence[Article], title: str = "conflictclf report", source: str = "",
                 labels: Sequence[str] = ()) -> str:
    """The whole page as one string."""
    labels = label_order(articles, labels)
    idx = {lab: i for i, lab in enumerate(labels)}
    colours = {lab: LABEL_COLOURS.get(lab, FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])
               for i, lab in enumerate(labels)}
    n_sent = sum(len(a.sentences) for a in articles)
    label_css = "".join(f".c{i}{{background:{colours[lab]}}}u.k{i}{{text-decoration-color:{colours[lab]}}}"
                        for lab, i in idx.items())
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        # no network at all: not even an image or a font may be fetched
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
        f"<title>{escape(title)}</title><style>{CSS}{label_css}</style></head><body>",
        f"<header><h1>{escape(title)}</h1><p class=\"meta\">{len(articles)} articles, {n_sent} sentences"
        f"{' from ' + escape(source) if source else ''}; made {escape(time.strftime('%Y-%m-%d %H:%M'))}. "
        "Hover over a label for its score, over an underlined word for why it was given.</p></header>",
        _controls(labels),
        _summary(articles, labels, idx, colours),
        "<main>",
    ]
    parts += [_article(k, a, idx) for k, a in enumerate(articles)]
    parts += ["</main><footer>Made by conflictclf. Labels are a model's output and can be wrong.</footer>",
              f"<script>{JS}</script></body></html>\n"]
    return "".join(parts)


def _controls(labels: Sequence[str]) -> str:
    boxes = "".join(f'<label><input type="checkbox" data-f="{i}"> <span class="sw c{i}"></span>{escape(lab)}</label>'
                    for i, lab in enumerate(labels))
    return (f'<nav id="controls"><span>Show only:</span>{boxes}'
            '<label><input type="checkbox" data-f="n"> no label</label>'
            '<input type="search" id="q" placeholder="Search the text" aria-label="Search the text">'
            '<span id="shown" aria-live="polite"></span></nav>')


def _summary(articles: Sequence[Article], labels: Sequence[str], idx: dict[str, int],
             colours: dict[str, str]) -> str:
    counts = [a.counts() for a in articles]
    total = sum(counts, Counter())
    n_sent = sum(len(a.sentences) for a in articles)
    none = sum(not s.labels for a in articles for s in a.sentences)
    rows = "".join(f"<tr><td><span class=\"sw c{idx[lab]}\"></span>{escape(lab)}</td><td>{total[lab]}</td>"
                   f"<td>{total[lab] / max(n_sent, 1):.1%}</td><td>{sum(c[lab] > 0 for c in counts)}</td></tr>"
                   for lab in labels)
    rows += f"<tr><td>no label</td><td>{none}</td><td>{none / max(n_sent, 1):.1%}</td><td></td></tr>"
    whole = ("<table><tr><th>label</th><th>sentences</th><th>share</th><th>articles</th></tr>"
             f"{rows}</table>")
    head = "".join(f"<th>{escape(lab)}</th>" for lab in labels)
    index = "".join(f'<tr><td class="name"><a href="#a{k}"><bdi>{escape(a.name)}</bdi></a></td><td>{len(a.sentences)}</td>'
                    + "".join(f"<td>{c[lab]}</td>" for lab in labels) + "</tr>"
                    for k, (a, c) in enumerate(zip(articles, counts)))
    return ('<section id="summary"><h2>Summary</h2>' + whole
            + f"<h2>Labels per article</h2>{_chart(articles, counts, labels, idx, colours)}"
            + '<div class="index-wrap"><table><tr><th>article</th><th>sentences</th>' + head + "</tr>"
            + index + "</table></div></section>")


def _chart(articles: Sequence[Article], counts: Sequence[Counter], labels: Sequence[str],
           idx: dict[str, int], colours: dict[str, str]) -> str:
    """Stacked bars, one per article, of its sentences per label; each bar links to its article."""
    if not articles:
        return ""
    top = max(max((sum(c[lab] for lab in labels) for c in counts), default=0), 1)
    # a few articles get narrow bars from the left rather than a few wide blocks
    step = min(CHART_WIDTH / len(articles), MAX_BAR)
    # gaps between bars a pixel or two wide only flicker at 1,000 articles: bars touch there
    gap = min(step * 0.15, 2.0) if step >= 4 else 0.0
    bars = []
    for k, (a, c) in enumerate(zip(articles, counts)):
        y, rects = float(CHART_HEIGHT), []
        for lab in labels:
            h = c[lab] / top * (CHART_HEIGHT - 10)
            if h > 0:
                y -= h
                rects.append(f'<rect x="{k * step + gap / 2:.2f}" y="{y:.2f}" width="{max(step - gap, 0.5):.2f}" '
                             f'height="{h:.2f}" fill="{colours[lab]}"/>')
        tip = escape(f"{a.name}: " + ", ".join(f"{lab} {c[lab]}" for lab in labels))
        bars.append(f'<a href="#a{k}"><title>{tip}</title>{"".join(rects)}</a>')
    legend = "".join(f'<span><span class="sw c{idx[lab]}"></span>{escape(lab)}</span>' for lab in labels)
    return (f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" preserveAspectRatio="none" '
            f'role="img" aria-label="labelled sentences per article">{"".join(bars)}</svg>'
            f'<div class="legend">{legend} <span>(bar height: labelled sentences, max {top})</span></div>')


def _article(k: int, a: Article, idx: dict[str, int]) -> str:
    c = a.counts()
    none = sum(not s.labels for s in a.sentences)
    labels = list(idx)
    table = ("<table><tr>" + "".join(f"<th>{escape(lab)}</th>" for lab in labels) + "<th>no label</th>"
             "<th>sentences</th></tr><tr>" + "".join(f"<td>{c[lab]}</td>" for lab in labels)
             + f"<td>{none}</td><td>{len(a.sentences)}</td></tr></table>")
    items = "".join(_sentence_html(n, s, idx) for n, s in enumerate(a.sentences, 1))
    return f'<section class="art" id="a{k}"><h2><bdi>{escape(a.name)}</bdi></h2>{table}<ol class="sents">{items}</ol></section>'


def _sentence_html(n: int, s: Sentence, idx: dict[str, int]) -> str:
    scores = " · ".join(f"{lab} {p:.2f}" for lab, p in s.scores.items())
    chips = "".join(f'<span class="chip c{idx[lab]}" title="{escape(lab)} {s.scores[lab]:.3f}">{escape(lab)}</span>'
                    if lab in s.scores else f'<span class="chip c{idx[lab]}">{escape(lab)}</span>'
                    for lab in s.labels)
    data = " ".join(str(idx[lab]) for lab in s.labels) or "n"
    cls = "s" if s.labels else "s none"
    # value: a filtered list keeps each sentence's number in the article
    # <bdi>: a right-to-left override in the text stays inside it, off the chips
    return (f'<li value="{n}" class="{cls}" data-l="{data}" title="{escape(scores)}">'
            f"<bdi>{_marked(s.text, s.rationales, idx)}</bdi>{chips}</li>")


def _marked(text: str, rationales: dict[str, list[dict[str, Any]]], idx: dict[str, int]) -> str:
    """The sentence, escaped, with rationale spans underlined (overlaps split at every edge)."""
    spans = [(r["start"], r["end"], lab, r.get("weight")) for lab, rs in rationales.items() if lab in idx for r in rs]
    if not spans:
        return escape(text)
    cuts = sorted({0, len(text), *(p for s, e, _, _ in spans for p in (s, e))})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        cover = [(lab, w) for s, e, lab, w in spans if s <= a and b <= e]
        piece = escape(text[a:b])
        if not cover:
            out.append(piece)
            continue
        why = "; ".join(f"{lab}" + (f" (weight {w:.2f})" if isinstance(w, (int, float)) else "") for lab, w in cover)
        multi = " m" if len(cover) > 1 else ""
        out.append(f'<u class="r k{idx[cover[0][0]]}{multi}" title="why: {escape(why)}">{piece}</u>')
    return "".join(out)


def write_report(html_text: str, path: str | Path) -> Path:
    """Write atomically: a reader never sees half a page under the final name."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        tmp.write_text(html_text, encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{p}: cannot write ({exc.strerror})") from None
    return p
