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
