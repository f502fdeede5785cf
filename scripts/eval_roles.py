"""Score a model's role tagger and the value normalisers on the blind role probe.

    python scripts/eval_roles.py --model DIR            # data/roles_probe/probe.jsonl
    python scripts/eval_roles.py --model DIR --json out.json
    python scripts/eval_roles.py --model DIR --incident-probe data/incidents_probe --writers 1,2,3   # the second probe
    python scripts/eval_roles.py --model DIR --incident-probe data/incidents_probe --writers 4,5,6   # the third

Spans: per-role F1, exact and overlapping, on the probe's labelled sentences (the tagger
alone), and end to end (roles only where the model's own labels put them). Values, over
the probe's gold spans: the normalisers on the gold span's text; the tagger's overlapping
span found and its value right (what a user gets); and right among those found. Counts:
low and high both right; times: date and precision; places: the country.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from conflictclf.data.corpus import read_jsonl
from conflictclf.data.roles import ROLES, Span, record_spans
from conflictclf.train.role_metrics import span_scores

DEFAULT = Path(__file__).resolve().parents[1] / "data" / "roles_probe" / "probe.jsonl"


def value_matches(role: str, value: dict, gold: dict) -> bool:
    if role in ("killed", "injured"):
        return (value.get("low"), value.get("high")) == (gold["low"], gold["high"])
    if role == "time":
        return (value.get("value"), value.get("precision")) == (gold["value"], gold["precision"])
    return value.get("country") == gold["country"]


def scorable(role: str, gold: dict) -> bool:
    """Times and places the probe leaves unresolved are not scored (counts always are:
    "dozens" must come out unknown)."""
    return role in ("killed", "injured") or (gold.get("value") if role == "time" else gold.get("country")) is not None


def values_table(rows, predicted: list[list] | None) -> dict[str, dict[str, float]]:
    """Per value kind: accuracy on gold spans, and on overlapping predicted spans."""
    from conflictclf.model.events.roles import normalise

    out: dict[str, dict[str, float]] = {}
    for kind, roles in (("count", ("killed", "injured")), ("time", ("time",)), ("place", ("place",))):
        alone = found = located = n = 0
        for i, (rec, date) in enumerate(rows):
            for raw in rec.extra["roles"]:
                if raw["role"] not in roles or not scorable(raw["role"], raw["gold"]):
                    continue
                n += 1
                span = Span(raw["role"], raw["start"], raw["end"], raw["text"])
                alone += value_matches(span.role, normalise(span, date).value or {}, raw["gold"])
                if predicted is not None:
                    hits = [p for p in predicted[i] if p.role == span.role and p.start < span.end and span.start < p.end]
                    located += bool(hits)
                    found += bool(hits) and value_matches(span.role, hits[0].value or {}, raw["gold"])
        out[kind] = {"n": n, "on_gold_spans": round(alone / n, 4) if n else 0.0,
                     "on_predicted_spans": round(found / n, 4) if n and predicted is not None else None,
                     "found": located,
                     "right_where_found": round(found / located, 4) if located else None}
    return out


def from_incident_probe(folder: Path, out: Path, writers: list[str] | None = None) -> Path:
    """The incident probe's articles (spans as [role, text, occurrence], values in `norm`)
    written in this probe's format (offsets, `gold` values), so both probes score alike."""
    lines = []
    for f in sorted(folder.glob("articles*.jsonl")):
        if writers and f.stem.removeprefix("articles") not in writers:
            continue
        for raw in f.read_text(encoding="utf-8").splitlines():
            s = json.loads(raw)
            norm = {role: {x[0]: x[1:] for x in items} for role, items in (s.get("norm") or {}).items()}
            roles = []
            for sp in s.get("spans") or []:
                role, piece, occ = sp[0], sp[1], sp[2] if len(sp) > 2 else 0
                at = -1
                for _ in range(occ + 1):
                    at = s["text"].find(piece, at + 1)
                span = {"role": role, "start": at, "end": at + len(piece), "text": piece}
                given = norm.get(role, {}).get(piece)
                if role in ("killed", "injured"):
                    span["gold"] = {"low": given[0], "high": given[1]} if given else {"low": None, "high": None}
                elif role == "time":
                    span["gold"] = {"value": given[0], "precision": given[1]} if given else {"value": None, "precision": None}
                elif role == "place":
                    span["gold"] = {"country": given[0], "region_name": given[1]} if given else {"country": None}
                roles.append(span)
            rec = {"id": s["id"], "doc": s["doc"], "date": s["date"], "text": s["text"], "labels": s["labels"],
                   "source": "written", "split": "test"}
            if s["labels"]:
                rec["roles"] = roles
            lines.append(json.dumps(rec, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--probe", type=Path, default=DEFAULT)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--incident-probe", type=Path, default=None, help="score the incident probe's folder instead")
    ap.add_argument("--writers", default=None, help="with --incident-probe: comma-separated writer numbers (default: all)")
    args = ap.parse_args()
    if args.incident_probe is not None:
        import tempfile

        writers = args.writers.split(",") if args.writers else None
        args.probe = from_incident_probe(args.incident_probe, Path(tempfile.mkdtemp()) / "probe.jsonl", writers)
    from conflictclf.model.classifier import EventClassifier

    clf = EventClassifier.from_pretrained(args.model)
    records = read_jsonl(args.probe)
    docs: dict[str, list] = {}
    for rec in records:
        docs.setdefault(rec.doc or rec.id, []).append(rec)
    labelled_rows, gold_labelled, pred_labelled, gold_all, pred_all = [], [], [], [], []
    for recs in docs.values():
        date = dt.date.fromisoformat(recs[0].extra["date"]) if recs[0].extra.get("date") else None
        texts = [r.text for r in recs]
        given = clf.roles(texts, date, labelled=[bool(r.labels) for r in recs])
        own = clf.roles(texts, date)
        for rec, g, o in zip(recs, given, own):
            gold = list(record_spans(rec) or ())
            gold_all.append(gold)
            pred_all.append([Span(x.role, x.start, x.end, x.text) for x in o])
            if rec.labels:
                labelled_rows.append((rec, date))
                gold_labelled.append(gold)
                pred_labelled.append(g)
    spans = span_scores(gold_labelled, [[Span(x.role, x.start, x.end, x.text) for x in p] for p in pred_labelled])
    end_to_end = span_scores(gold_all, pred_all)
    values = values_table(labelled_rows, pred_labelled)
    print(f"{len(records)} probe sentences, {len(labelled_rows)} labelled; model {clf.path}")
    print(f"{'role':12s} {'spans':>6s} {'exact F1':>9s} {'overlap P':>10s} {'overlap R':>10s} {'overlap F1':>11s}"
          f" {'end-to-end F1':>14s}")
    for role in (*ROLES, "micro"):
        e, o, z = spans["exact"][role], spans["overlap"][role], end_to_end["overlap"][role]
        print(f"{role:12s} {o['support']:6d} {e['f1']:9.3f} {o['p']:10.3f} {o['r']:10.3f} {o['f1']:11.3f} {z['f1']:14.3f}")
    print(f"{'value':8s} {'n':>4s} {'on gold spans':>14s} {'tagged and right':>17s} {'found':>6s}"
          f" {'right where found':>18s}")
    for kind, v in values.items():
        print(f"{kind:8s} {v['n']:4d} {v['on_gold_spans']:14.3f} {v['on_predicted_spans']:17.3f} {v['found']:6d}"
              f" {v['right_where_found']:18.3f}")
    if args.json:
        args.json.write_text(json.dumps({"spans": spans, "end_to_end": end_to_end, "values": values}, indent=2) + "\n",
                             encoding="utf-8")


if __name__ == "__main__":
    main()
