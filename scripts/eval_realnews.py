"""Score models on the real-news development set, per label and per topic, averaged over runs.

The set is third-party text kept outside the repository (`../shared/realnews-dev/gold.jsonl`):
this script only reads it. Several model directories (one per seed) give the mean and the
spread of each figure, which is how data and recipe decisions are made.

    python scripts/eval_realnews.py runs/base-s42 runs/base-s7 runs/base-s1234
    python scripts/eval_realnews.py --gold ../shared/realnews-dev/gold.jsonl --json out.json runs/new-s*
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score

DEFAULT_GOLD = Path(__file__).resolve().parents[1].parent / "shared" / "realnews-dev" / "gold.jsonl"


def score(model_dir: Path, rows: list[dict], backend: str) -> dict:
    from conflictclf.model.classifier import EventClassifier

    clf = EventClassifier.from_pretrained(model_dir, backend=backend)
    labels = clf.labels
    preds = clf.predict([r["text"] for r in rows])
    y = np.array([[lab in r["labels"] for lab in labels] for r in rows], dtype=int)
    p = np.array([[lab in pr.labels for lab in labels] for pr in preds], dtype=int)
    out: dict = {"labels": labels, "all": _block(y, p, labels)}
    for topic in sorted({r.get("topic", "") for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.get("topic", "") == topic]
        out[topic] = _block(y[idx], p[idx], labels)
    return out


def _block(y: np.ndarray, p: np.ndarray, labels: list[str]) -> dict:
    res = {lab: float(f1_score(y[:, j], p[:, j], zero_division=0)) for j, lab in enumerate(labels)}
    res.update({f"P_{lab}": float(precision_score(y[:, j], p[:, j], zero_division=0)) for j, lab in enumerate(labels)})
    res.update({f"R_{lab}": float(recall_score(y[:, j], p[:, j], zero_division=0)) for j, lab in enumerate(labels)})
    res["macro"] = float(np.mean([res[lab] for lab in labels]))
    none = y.sum(axis=1) == 0
    # share of gold no-label sentences that get any label: the false alarms an analyst sees
    res["none_labelled"] = float((p[none].sum(axis=1) > 0).mean()) if none.any() else 0.0
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    ap.add_argument("--backend", default="torch", help="torch (fp32, the reference) or auto (what users run)")
    ap.add_argument("--json", type=Path, help="also write every run's figures here")
    args = ap.parse_args()
    if not args.gold.is_file():
        raise SystemExit(f"error: {args.gold}: no such file (the set lives beside the repository; pass --gold)")
    rows = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    runs = {str(m): score(m, rows, args.backend) for m in args.models}
    first = next(iter(runs.values()))
    labels = first["labels"]
    keys = ["macro", *labels, *(f"P_{lab}" for lab in labels), "none_labelled"]
    print(f"{len(rows)} sentences, {len(runs)} run(s); mean (min-max) over runs")
    for block in first:
        if block == "labels":
            continue
        cells = []
        for k in keys:
            vals = [r[block][k] for r in runs.values()]
            spread = f" ({min(vals):.3f}-{max(vals):.3f})" if len(vals) > 1 else ""
            cells.append(f"{k} {statistics.mean(vals):.3f}{spread}")
        print(f"[{block}]\n  " + "\n  ".join(cells))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
