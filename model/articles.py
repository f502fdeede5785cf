"""Whole articles in, one labelled record per sentence out: the library under `classify` and `demo`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from conflictclf.data.segment import Sentence, html_to_text, looks_like_html, segment_text
from conflictclf.model.classifier import EventClassifier, Prediction
from conflictclf.data.errors import InputError, ModelError
from conflictclf.model.explain import Rationale

if TYPE_CHECKING:
    from conflictclf.model.events.roles import Role
    from conflictclf.model.events.tagger import RoleTagger


@dataclass(frozen=True)
class SentenceResult:
    """One sentence of an article: where it is, its labels and scores, and (if asked) why."""

    source: str
    index: int
    start: int
    end: int
    text: str
    labels: list[str]
    scores: dict[str, float]
    rationales: dict[str, list[Rationale]] | None = None  # None: not asked for
    roles: list[Role] | None = None  # None: not asked for; [] for a sentence with no label or no span

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.rationales is None:
            del d["rationales"]
        if self.roles is None:
            del d["roles"]
        else:
            d["roles"] = [r.to_dict() for r in self.roles]
        return d


@dataclass(frozen=True)
class ArticlesResult:
    """What `classify_texts` returns: the records, the labels they report, and what segmentation left out."""

    records: list[SentenceResult]
    labels: list[str]  # the labels reported, in the order asked for
    sources: list[str]  # every article's source, in input order (an article may have no sentences)
    markup: dict[str, int]  # per source: pieces of markup stripped
    dropped: dict[str, int]  # per source: lines or pieces left out as page furniture or code
    explained: bool = False  # whether records carry rationales

    def left_out(self, source: str | None = None) -> str:
        """What segmentation did not pass on, for one source or all, in words ("" when nothing)."""
        markup = self.markup.get(source, 0) if source is not None else sum(self.markup.values())
        dropped = self.dropped.get(source, 0) if source is not None else sum(self.dropped.values())
        parts = [f"stripped {markup} piece{'s' * (markup != 1)} of markup"] if markup else []
        if dropped:
            parts.append(f"left out {dropped} non-prose line{'s' * (dropped != 1)}")
        return ", ".join(parts)


def read_article(path: str | Path) -> str:
    """Text of an article file; HTML is reduced to its visible text. Binary files are refused."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, not an article file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    return decode_article(raw, str(p), html=p.suffix.lower() in (".html", ".htm"))


def decode_article(raw: bytes, name: str, html: bool = False) -> str:
    if b"\x00" in raw[:8192]:
        raise InputError(f"{name}: looks like a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    return html_to_text(text) if html or looks_like_html(text) else text


def pick_labels(spec: Sequence[str] | None, known: Sequence[str]) -> list[str]:
    """The labels to report: all the model's when `spec` is empty, else `spec`, checked against the model."""
    if not spec:
        return list(known)
    unknown = [x for x in spec if x not in known]
    if unknown:
        raise InputError(f"unknown label {unknown[0]!r} (this model knows: {', '.join(known)})")
    return list(spec)


@dataclass(frozen=True)
class SegmentedArticles:
    """Articles cut into sentences, before any model has seen them."""

    units: list[tuple[str, Sentence]]  # (source, sentence), articles in input order
    sources: list[str]
    markup: dict[str, int]
    dropped: dict[str, int]

    @property
    def texts(self) -> list[str]:
        return [s.text for _, s in self.units]


def segment_articles(articles: Sequence[tuple[str, str]]) -> SegmentedArticles:
    """Every (source, text) pair's sentences, and per source what segmentation left out."""
    units: list[tuple[str, Sentence]] = []
    markup: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for src, text in articles:
        seg = segment_text(text)
        units += [(src, s) for s in seg.sentences]
        markup[src] = markup.get(src, 0) + seg.markup
        dropped[src] = dropped.get(src, 0) + seg.dropped
    return SegmentedArticles(units, [src for src, _ in articles], markup, dropped)


def label_segmented(clf: EventClassifier, seg: SegmentedArticles, preds: Sequence[Prediction],
                    labels: Sequence[str] | None = None, threshold: float | None = None,
                    explain: bool = False) -> ArticlesResult:
    """The records of segmented articles from `preds` (one per sentence, from `clf.predict`).

    Split from `classify_texts` so that a caller may predict the sentences of many
    requests in one pass (model/serving.py) and still build each one's records here."""
    if len(preds) != len(seg.units):
        raise ModelError(f"{len(seg.units)} sentences but {len(preds)} predictions")
    keep = pick_labels(labels, clf.labels)
    shown = [([x for x in p.labels if x in keep], {k: p.scores[k] for k in keep}) for p in preds]
    rats: list[dict[str, list[Rationale]] | None] = [None] * len(seg.units)
    if explain:
        from conflictclf.model.explain import explain_labels

        rats = list(explain_labels(clf, seg.texts, [labs for labs, _ in shown], threshold))
    records = [SentenceResult(src, s.index, s.start, s.end, s.text, labs, scores, r)
               for (src, s), (labs, scores), r in zip(seg.units, shown, rats)]
    return ArticlesResult(records, keep, seg.sources, seg.markup, seg.dropped, explain)


def classify_texts(clf: EventClassifier, articles: Sequence[tuple[str, str]], threshold: float | None = None,
                   labels: Sequence[str] | None = None, explain: bool = False, roles: RoleTagger | None = None,
                   dates: Mapping[str, dt.date | None] | None = None) -> ArticlesResult:
    """Segment every (source, text) pair, classify all sentences in one batched pass, keep the
    asked-for `labels` (default: all), and with `explain` add each kept label's rationale.

    `roles`: a role tagger (model/events/tagger.py) to add each labelled sentence's role spans
    with their values; times resolve against the article's date in `dates` (by source), or
    its dateline when it has none there."""
    keep = pick_labels(labels, clf.labels)  # an unknown label fails before the model runs
    seg = segment_articles(articles)
    result = label_segmented(clf, seg, clf.predict(seg.texts, threshold), keep, threshold, explain)
    if roles is None:
        return result
    return add_roles(result, roles, {src: (dates or {}).get(src) or article_date(text) for src, text in articles})


def add_roles(result: ArticlesResult, tagger: RoleTagger, dates: Mapping[str, dt.date | None]) -> ArticlesResult:
    """`result` with every record's roles, article by article (a place name is settled by the
    countries its own article names)."""
    from conflictclf.model.events.roles import with_values

    records = list(result.records)
    labelled = [i for i, rec in enumerate(records) if rec.labels]  # tagged in one batched pass
    spans = dict(zip(labelled, tagger.tag([records[i].text for i in labelled])))
    by_source: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        by_source.setdefault(rec.source, []).append(i)
    for src, idx in by_source.items():
        for i, rs in zip(idx, with_values([spans.get(i, []) for i in idx], dates.get(src))):
            records[i] = replace(records[i], roles=rs)
    return replace(result, records=records)


def article_date(text: str) -> dt.date | None:
    """The date of the article's dateline, if it opens with one that has a year."""
    from conflictclf.model.events.dates import dateline_date

    return dateline_date(text)


def classify_articles(clf: EventClassifier, articles: Sequence[tuple[str, str]],
                      threshold: float | None = None) -> list[SentenceResult]:
    """Every sentence of every (source, text) pair, with all the model's labels and scores."""
    return classify_texts(clf, articles, threshold).records
