"""Review tasks out, in the import formats of Label Studio and doccano (or plain JSONL).

Formats written (and read back by conflictclf.data.annotations):
- Label Studio 1.x task import JSON: a list of {"data": {...}, "predictions": [{"model_version",
  "result": [{"from_name", "to_name", "type": "choices", "value": {"choices": [...]}}]}]}, used
  with the labelling config written next to it (a multiple-choice `Choices` tag named "labels"
  over a `Text` tag named "text").
- doccano 1.x text-classification JSONL import: one {"text", "label": [...], ...} per line; the
  other keys become the example's metadata.
A sentence with no event is labelled `none`, an explicit choice, so that a task nobody labelled
can be told apart from a sentence an annotator judged to carry no label.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from conflictclf.data.files import atomic_write_text
from conflictclf.data.results import Article
from conflictclf.data.errors import InputError

FORMATS = ("label-studio", "doccano", "jsonl")
NONE_LABEL = "none"
# Names tying Label Studio results to the config's tags; the importer looks for the choices
# of any tag, so a renamed tag still imports.
LS_FROM, LS_TO = "labels", "text"


@dataclass
class Candidate:
    """One sentence of a results file that may become a task, with where it came from."""

    ref: str  # stable reference: article and sentence order, else the row's id
    text: str
    doc: str  # the article, by the rule `report` uses too (conflictclf.data.results)
    order: int | None
    start: int | None
    end: int | None
    labels: list[str]
    scores: dict[str, float]
    reason: str = ""  # why it was picked, shown to the annotator
    extra: dict[str, Any] = field(default_factory=dict)


def candidates(articles: Sequence[Article], stem: str) -> list[Candidate]:
    """Every sentence of the articles, in article and reading order; `stem` (the results
    file's) names a row that has neither an order nor an id."""
    out = []
    for a in articles:
        for r in a.rows:
            order = r.order
            ref = f"{a.name}-{order:03d}" if order is not None else str(r.fields.get("id", f"{stem}-{r.line}"))
            out.append(Candidate(ref, r.text, a.name, order, r.offset("start"), r.offset("end"), list(r.labels),
                                 dict(r.scores)))
    return out


def task_data(c: Candidate) -> dict:
    """What travels with a task and comes back in the export: the text and where it is from."""
    data = {"text": c.text, "ref": c.ref, "doc": c.doc, "order": c.order, "start": c.start, "end": c.end,
            "reason": c.reason, "model_labels": c.labels, "scores": c.scores}
    return data | c.extra


def label_studio_tasks(cands: Sequence[Candidate], model_version: str) -> list[dict]:
    return [{"data": task_data(c),
             "predictions": [{"model_version": model_version,
                              "score": max(c.scores.values(), default=0.0),
                              "result": [{"from_name": LS_FROM, "to_name": LS_TO, "type": "choices",
                                          "value": {"choices": c.labels or [NONE_LABEL]}}]}]}
            for c in cands]


def label_studio_config(labels: Sequence[str]) -> str:
    """The labelling interface the tasks expect: one required multiple choice per sentence."""
    choices = "\n".join(f"    <Choice value={quoteattr(lab)}/>" for lab in [*labels, NONE_LABEL])
    return (
        "<View>\n"
        '  <Header value="$reason"/>\n'  # why the sentence was picked; doc and order ride along in data
        f'  <Text name="{LS_TO}" value="$text"/>\n'
        f'  <Choices name="{LS_FROM}" toName="{LS_TO}" choice="multiple" required="true" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def doccano_rows(cands: Sequence[Candidate]) -> list[dict]:
    return [task_data(c) | {"label": c.labels or [NONE_LABEL]} for c in cands]


def write_tasks(cands: Sequence[Candidate], fmt: str, output: str | Path, labels: Sequence[str],
                model_version: str = "conflictclf") -> list[Path]:
    """Write the tasks (and, for Label Studio, the labelling config); returns the paths written."""
    out = Path(output)
    if fmt == "label-studio":
        config = out.with_name(out.stem + ".label-config.xml")
        # the config first: tasks under their final name always have the interface they need
        _write(config, label_studio_config(labels))
        _write(out, json.dumps(label_studio_tasks(cands, model_version), ensure_ascii=False, indent=1) + "\n")
        return [out, config]
    rows = doccano_rows(cands) if fmt == "doccano" else [task_data(c) | {"labels": c.labels} for c in cands]
    _write(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return [out]


def _write(path: Path, text: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
