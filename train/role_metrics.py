"""Span F1 per role, exact and overlapping, for role taggers and for annotator agreement."""

from __future__ import annotations

from collections.abc import Sequence

from conflictclf.data.roles import ROLES, Span


def _matches(gold: Sequence[Span], pred: Sequence[Span], role: str, overlap: bool) -> tuple[int, int, int]:
    """(true positives, gold count, predicted count) for one sentence and role; each gold span
    matches at most one predicted span (greedy, longest shared stretch first)."""
    g = [s for s in gold if s.role == role]
    p = [s for s in pred if s.role == role]
    if not overlap:
        return len({(s.start, s.end) for s in g} & {(s.start, s.end) for s in p}), len(g), len(p)
    pairs = sorted(((min(a.end, b.end) - max(a.start, b.start), i, j) for i, a in enumerate(g)
                    for j, b in enumerate(p) if min(a.end, b.end) > max(a.start, b.start)), reverse=True)
    used_g: set[int] = set()
    used_p: set[int] = set()
    for _, i, j in pairs:
        if i not in used_g and j not in used_p:
            used_g.add(i)
            used_p.add(j)
    return len(used_g), len(g), len(p)


def span_scores(gold: Sequence[Sequence[Span]], pred: Sequence[Sequence[Span]],
                roles: Sequence[str] = ROLES) -> dict[str, dict[str, dict[str, float]]]:
    """{"exact"|"overlap": {role: {"p", "r", "f1", "support"}, "micro": {...}}} over sentences."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for mode in ("exact", "overlap"):
        table: dict[str, dict[str, float]] = {}
        tot = [0, 0, 0]
        for role in roles:
            tp = ng = np_ = 0
            for g, p in zip(gold, pred):
                a, b, c = _matches(g, p, role, mode == "overlap")
                tp, ng, np_ = tp + a, ng + b, np_ + c
            table[role] = _prf(tp, ng, np_)
            tot = [tot[0] + tp, tot[1] + ng, tot[2] + np_]
        table["micro"] = _prf(*tot)
        out[mode] = table
    return out


def _prf(tp: int, n_gold: int, n_pred: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": round(p, 4), "r": round(r, 4), "f1": round(f, 4), "support": n_gold}
