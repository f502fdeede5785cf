"""Rich tables shared by several commands."""

from __future__ import annotations

from rich.table import Table


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
