"""Rich tables shared by several commands: metrics, comparisons, calibration and labelled sentences."""

from __future__ import annotations

from collections import Counter

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from conflictclf.model.articles import ArticlesResult, SentenceResult
from conflictclf.cli.colours import TERMINAL_COLOURS


def metrics_table(rep: dict, title: str = "", other: dict | None = None, other_name: str = "baseline") -> Table:
    """Per-label precision/recall/F1/support plus micro/macro/exact rows; optional side-by-side F1."""
    t = Table(title=title or None, title_justify="left")
    for col in ("label", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="left" if col == "label" else "right")
    if other:
        t.add_column(f"{other_name} F1", justify="right")
    for lab, m in rep["per_label"].items():
        row = [lab, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])]
        if other:
            row.append(f"{other['per_label'][lab]['f1']:.3f}")
        t.add_row(*row)
    t.add_section()
    for key, name in (("macro_f1", "macro F1"), ("micro_f1", "micro F1"), ("exact_match", "exact match")):
        row = [name, "", "", f"{rep[key]:.3f}", str(rep["n"]) if key == "macro_f1" else ""]
        if other:
            row.append(f"{other[key]:.3f}")
        t.add_row(*row, style="bold" if key == "macro_f1" else None)
    return t


def compare_table(reports: list[dict], names: list[str], title: str = "") -> Table:
    """Precision/recall/F1 per label for several models, the last minus the first as a delta."""
    t = Table(title=title or None, title_justify="left")
    t.add_column("label")
    for i, _ in enumerate(names):
        for col in ("P", "R", "F1"):
            t.add_column(f"{col} [{i + 1}]", justify="right")
    t.add_column("ΔF1", justify="right")
    t.add_column("support", justify="right")
    for lab in reports[0]["per_label"]:
        row = [lab]
        for rep in reports:
            m = rep["per_label"][lab]
            row += [f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}"]
        delta = reports[-1]["per_label"][lab]["f1"] - reports[0]["per_label"][lab]["f1"]
        t.add_row(*row, f"{delta:+.3f}", str(reports[0]["per_label"][lab]["support"]))
    t.add_section()
    for key, name in (("macro_f1", "macro F1"), ("micro_f1", "micro F1")):
        row = [name]
        for rep in reports:
            row += ["", "", f"{rep[key]:.3f}"]
        t.add_row(*row, f"{reports[-1][key] - reports[0][key]:+.3f}", str(reports[0]["n"]), style="bold")
    t.caption = "  ".join(f"[{i + 1}] {n}" for i, n in enumerate(names)) + f"  ΔF1 = [{len(names)}] - [1]"
    return t


def calibration_table(calibs: list[dict | None], names: list[str]) -> Table:
    """Expected calibration error per label, raw scores and calibrated, per model."""
    t = Table(title="expected calibration error (10 bins; lower is better)", title_justify="left")
    t.add_column("label")
    for i, _ in enumerate(names):
        tag = "" if len(names) == 1 else f" [{i + 1}]"
        t.add_column(f"raw{tag}", justify="right")
        t.add_column(f"calibrated{tag}", justify="right")
    first = next(c for c in calibs if c)
    for lab in first["before"]:
        row = [lab]
        for c in calibs:
            row += [f"{c['before'][lab]:.4f}", f"{c['after'][lab]:.4f}" if c["after"] else "-"]
        t.add_row(*row, style="bold" if lab == "mean" else None)
    return t


# Below this many columns for the sentence, the all-label scores column is left out.
MIN_SENTENCE_WIDTH = 70


def _colour(label: str) -> str:
    return TERMINAL_COLOURS.get(label, "green")


def _emphasised(r: SentenceResult) -> Text:
    """The sentence with each label's rationale words underlined in the label's colour."""
    text = Text(r.text)
    for lab, spans in (r.rationales or {}).items():
        for x in spans:
            text.stylize(f"underline bold {_colour(lab)}", x.start, x.end)
    return text


def _value(role) -> str:
    """A role's normalised value in a few characters ("2025-03-16", "ML", "12+", "?")."""
    v = role.value
    if v is None:
        return ""
    if not v.get("resolved"):
        return "?"
    if role.role == "time":
        return v["value"] if v["precision"] == "day" else f"{v['precision']} of {v['value']}"
    if role.role == "place":
        return v["country"] if v["precision"] == "country" else f"{v['country']}, {v['region']}"
    low, high = v["low"], v["high"]
    if low == high:
        return str(low)
    return f"{low}+" if high is None else f"up to {high}" if low is None else f"{low}-{high}"


def _roles_text(r: SentenceResult) -> Text:
    """The sentence's roles on lines under it: "perpetrator Militants · place Gao (ML, ML.09)"."""
    out = Text()
    for i, role in enumerate(r.roles or []):
        out.append(" · " if i else "", style="dim")
        out.append(role.role + " ", style="dim")
        out.append(role.text, style="bold")
        value = _value(role)
        if value:
            out.append(f" ({value})", style="dim")
    return out


def _sentence_cell(r: SentenceResult) -> Text:
    text = _emphasised(r)
    if r.roles:
        text = Text("\n").join([text, _roles_text(r)])
    return text


def _assigned(r: SentenceResult) -> Text:
    """One line per assigned label with its score, e.g. "attack 0.91"; "-" when none."""
    if not r.labels:
        return Text("-", style="dim")
    return Text("\n").join(Text(f"{lab} {r.scores[lab]:.2f}", style=f"bold {_colour(lab)}") for lab in r.labels)


def sentence_table(rows: list[SentenceResult], labels: list[str], title: str, width: int) -> Table:
    """Labelled sentences laid out for `width` columns: the sentence takes what the narrow
    columns leave; the scores of every label get a column only when the sentence keeps
    at least MIN_SENTENCE_WIDTH."""
    t = Table(title=title, title_justify="left", expand=True, box=box.SIMPLE_HEAD, pad_edge=False)
    number_w = max([len(str(r.index)) for r in rows] + [1])
    labels_w = max(len(f"{lab} 0.00") for lab in labels)
    scores = [f"{lab[:3]} {{:.2f}}" for lab in labels]
    scores_w = sum(len(s.format(0)) for s in scores) + len(scores) - 1
    # SIMPLE_HEAD: one space of padding either side of each column, no edges
    room = width - number_w - labels_w - 2 * 3
    wide = room - scores_w - 2 >= MIN_SENTENCE_WIDTH
    t.add_column("#", justify="right", width=number_w, no_wrap=True)
    t.add_column("sentence", ratio=1, overflow="fold")
    t.add_column("labels", width=labels_w, no_wrap=True)
    if wide:
        t.add_column("scores", width=scores_w, no_wrap=True, style="dim")
    for r in rows:
        cells = [str(r.index), _sentence_cell(r), _assigned(r)]
        if wide:
            cells.append(" ".join(s.format(r.scores[lab]) for s, lab in zip(scores, labels)))
        t.add_row(*cells)
    return t


def print_articles(console: Console, result: ArticlesResult) -> None:
    """A table per article, each followed by its label counts and what segmentation left out."""
    for src in dict.fromkeys(result.sources):
        rows = [r for r in result.records if r.source == src]
        console.print(sentence_table(rows, result.labels, f"{src}: {len(rows)} sentences", console.width))
        counts = Counter(lab for r in rows for lab in r.labels)
        none = sum(not r.labels for r in rows)
        summary = "  ".join(f"[{_colour(lab)}]{lab}[/] {counts.get(lab, 0)}" for lab in result.labels)
        left = result.left_out(src)
        console.print(f"summary: {summary}  none {none}" + (f"  ({escape(left)})" if left else "") + "\n")
