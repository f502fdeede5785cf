"""Agreement between the corpus's role spans and a blind second annotation of some sentences.

    python scripts/role_agreement.py                     # data/agreement/roles_second.jsonl
    python scripts/role_agreement.py --second OTHER.jsonl

Span F1 per role with the corpus as reference (F1 is symmetric: swapping the annotators
swaps precision and recall only), exact offsets and overlapping ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from conflictclf.data.corpus import load_records, read_jsonl
from conflictclf.data.roles import ROLES, record_spans
from conflictclf.train.role_metrics import span_scores

DEFAULT = Path(__file__).resolve().parents[1] / "data" / "agreement" / "roles_second.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--second", type=Path, default=DEFAULT)
    args = ap.parse_args()
    first = {r.id: r for r in load_records()}
    pairs = []
    for rec in read_jsonl(args.second):
        ref = first.get(rec.id)
        if ref is None or ref.text != rec.text:
            raise SystemExit(f"error: {rec.where}: {rec.id} is not in the corpus with this text")
        pairs.append((record_spans(ref) or (), record_spans(rec) or ()))
    scores = span_scores([a for a, _ in pairs], [b for _, b in pairs])
    print(f"{len(pairs)} sentences annotated twice, blind")
    print(f"{'role':12s} {'spans':>6s} {'exact F1':>9s} {'overlap F1':>11s}")
    for role in (*ROLES, "micro"):
        e, o = scores["exact"][role], scores["overlap"][role]
        print(f"{role:12s} {o['support']:6d} {e['f1']:9.3f} {o['f1']:11.3f}")


if __name__ == "__main__":
    main()
