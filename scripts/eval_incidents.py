"""Score `conflictclf incidents` on the blind incident probe (data/incidents_probe/).

    python scripts/eval_incidents.py --model DIR                  # every writer's articles
    python scripts/eval_incidents.py --model DIR --writers 2,3 --json out.json

The probe's articles are classified end to end (labels, roles, events, incidents), as a user
runs it. An item is one article's report of one gold incident (its labelled sentences); the
system puts an item in the incident holding most of its sentences (a sentence the probe gives
two incidents counts half for each). Metrics:
- clustering over items: pairwise precision/recall/F1 and B-cubed F1 (items the system
  labelled nothing in count as its own singletons);
- claim -> attack: each gold claim sentence is in a system incident as a claim, and that
  incident is the claimed one (mapped to the gold incident most of its items belong to);
- retaliation -> cause: a gold incident that answers another is linked to the system
  incident of that other;
- fields, per gold incident (attack and threat, not background) through its system incident:
  the day (date and precision, where the gold is a day), the country, the perpetrator and the
  claimant (a naming word shared), the dead (low and high as the gold range).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / "data" / "incidents_probe"


def load(probe: Path, writers: list[str] | None):
    sentences, incidents = [], {}
    for f in sorted(probe.glob("articles*.jsonl")):
        k = f.stem.removeprefix("articles")
        if writers and k not in writers:
            continue
        sentences += [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
        for inc in json.loads((probe / f"incidents{k}.json").read_text(encoding="utf-8")):
            incidents[inc["id"]] = inc
    return sentences, incidents


def articles_of(sentences):
    """Per doc: its text (sentences as paragraphs), each sentence's offsets, date and outlet."""
    docs: dict[str, dict] = {}
    for s in sentences:
        d = docs.setdefault(s["doc"], {"parts": [], "date": s.get("date"), "outlet": s.get("outlet")})
        d["parts"].append(s)
    out = {}
    for doc, d in docs.items():
        text, spans = "", []
        for s in d["parts"]:
            if text:
                text += "\n\n"
            spans.append((len(text), len(text) + len(s["text"]), s))
            text += s["text"]
        out[doc] = {"text": text, "spans": spans, "date": d["date"], "outlet": d["outlet"]}
    return out


def run_system(model: str | None, docs: dict, config=None):
    import datetime as dt

    from conflictclf.model.classifier import EventClassifier
    from conflictclf.model.events.pipeline import classify_for_incidents, incident_records

    clf = EventClassifier.from_pretrained(model)
    arts = [(doc, d["text"]) for doc, d in docs.items()]
    dates = {doc: dt.date.fromisoformat(d["date"]) for doc, d in docs.items() if d["date"]}
    outlets = {doc: d["outlet"] for doc, d in docs.items() if d["outlet"]}
    return incident_records(classify_for_incidents(clf, arts, dates, outlets), *([config] if config else []))


def gold_articles(docs: dict):
    """The probe's own labels and role spans (values by the shipped normalisers): what the
    grouping and merging make of perfect sentences, apart from the models' errors."""
    import datetime as dt

    from conflictclf.data.incident_input import ArticleSentences
    from conflictclf.data.roles import Span
    from conflictclf.model.events.roles import with_values

    out = []
    for doc, d in docs.items():
        day = dt.date.fromisoformat(d["date"]) if d["date"] else None
        spans = []
        for a, b, s in d["spans"]:
            found = []
            for sp in s.get("spans") or []:
                role, piece, occ = sp[0], sp[1], (sp[2] if len(sp) > 2 else 0)
                at = -1
                for _ in range(occ + 1):
                    at = s["text"].find(piece, at + 1)
                if at >= 0:
                    found.append(Span(role, at, at + len(piece), piece))
            spans.append(found)
        valued = with_values(spans, day)
        sents = [{"text": s["text"], "labels": s["labels"], "index": k, "start": a, "end": b,
                  "roles": [r.to_dict() for r in rs]} for k, ((a, b, s), rs) in enumerate(zip(d["spans"], valued))]
        out.append(ArticleSentences(doc, d["date"], d["outlet"], sents))
    return out


def gold_sentence(docs, doc: str, start: int, end: int):
    best, overlap = None, 0
    for a, b, s in docs[doc]["spans"]:
        o = min(b, end) - max(a, start)
        if o > overlap:
            best, overlap = s, o
    return best


def pairwise(gold: dict, system: dict) -> dict:
    items = list(gold)
    tp = fp = fn = 0
    for a, b in itertools.combinations(items, 2):
        g, s = gold[a] == gold[b], system[a] == system[b]
        tp += g and s
        fp += s and not g
        fn += g and not s
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "pairs_gold": tp + fn}


def bcubed(gold: dict, system: dict) -> dict:
    by_g, by_s = defaultdict(set), defaultdict(set)
    for i in gold:
        by_g[gold[i]].add(i)
        by_s[system[i]].add(i)
    p = sum(len(by_g[gold[i]] & by_s[system[i]]) / len(by_s[system[i]]) for i in gold) / len(gold)
    r = sum(len(by_g[gold[i]] & by_s[system[i]]) / len(by_g[gold[i]]) for i in gold) / len(gold)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def words(text: str | None) -> set[str]:
    from conflictclf.model.events.facets import content_words

    return set(content_words(text or ""))


def score(sentences, incidents, records, docs) -> dict:
    # where each gold sentence landed: system incident ids, and whether as a claim
    placed: dict[str, Counter] = defaultdict(Counter)
    as_claim: dict[str, set] = defaultdict(set)
    for rec in records:
        for ev in rec["evidence"]:
            s = gold_sentence(docs, ev["article"], ev["start"], ev["end"])
            if s is None:
                continue
            placed[s["id"]][rec["id"]] += 1
            if "claim" in ev["as"]:
                as_claim[s["id"]].add(rec["id"])
    # items: (doc, gold incident) -> their sentences
    items: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for s in sentences:
        for g in s.get("incidents") or []:
            items[(s["doc"], g)].append(s)
    gold_of, sys_of = {}, {}
    for (doc, g), ss in items.items():
        votes: Counter = Counter()
        for s in ss:
            share = 1 / len(s["incidents"])  # a sentence about two incidents is half evidence for each
            for sid, n in placed.get(s["id"], Counter()).items():
                votes[sid] += n * share
        gold_of[(doc, g)] = g
        sys_of[(doc, g)] = votes.most_common(1)[0][0] if votes else f"missed:{doc}:{g}"
    # each system incident stands for the gold incident most of its items belong to
    stands = defaultdict(Counter)
    for it, sid in sys_of.items():
        stands[sid][gold_of[it]] += 1
    sys_gold = {sid: c.most_common(1)[0][0] for sid, c in stands.items()}
    gold_sys = {}
    for g in incidents:
        c = Counter(sys_of[it] for it in items if it[1] == g and not sys_of[it].startswith("missed:"))
        gold_sys[g] = c.most_common(1)[0][0] if c else None
    recs = {r["id"]: r for r in records}
    out = {"items": len(items), "gold_incidents": len({g for _, g in items}),
           "system_incidents": len(records), "pairwise": pairwise(gold_of, sys_of), "bcubed": bcubed(gold_of, sys_of)}
    # claim -> attack
    claims = [s for s in sentences if "claim" in s["labels"] and s.get("incidents")
              and incidents.get(s["incidents"][0], {}).get("kind") == "attack"]
    right = sum(any(sys_gold.get(sid) == s["incidents"][0] for sid in as_claim.get(s["id"], ())) for s in claims)
    found = sum(bool(as_claim.get(s["id"])) for s in claims)
    out["claim_link"] = {"n": len(claims), "accuracy": right / len(claims) if claims else None,
                         "found": found, "right_where_found": right / found if found else None}
    # retaliation -> cause
    pairs = [(g, inc["answers"]) for g, inc in incidents.items() if inc.get("answers")]
    ok = 0
    for g, cause in pairs:
        sid, cid = gold_sys.get(g), gold_sys.get(cause)
        ok += bool(sid and cid and any(x["id"] == cid for x in recs[sid]["link"]))
    out["retaliation_link"] = {"n": len(pairs), "accuracy": ok / len(pairs) if pairs else None}
    out["fields"] = fields(incidents, gold_sys, recs)
    return out


def fields(incidents, gold_sys, recs) -> dict:
    tallies = defaultdict(lambda: [0, 0])
    for g, inc in incidents.items():
        if inc["kind"] == "background" or gold_sys.get(g) is None:
            continue
        r = recs[gold_sys[g]]
        if inc.get("date") and inc.get("date_precision") == "day":
            tallies["date"][1] += 1
            tallies["date"][0] += r["date"] == inc["date"] and r["date_precision"] == "day"
        if inc.get("country"):
            tallies["country"][1] += 1
            tallies["country"][0] += r["event_loc"]["country"] == inc["country"]
        for key, sys_key in (("perpetrator", "actor"), ("claimed_by", "claimed_by")):
            if inc.get(key):
                tallies[key][1] += 1
                tallies[key][0] += bool(words(inc[key]) & set().union(*(words(v) for a in r[sys_key] for v in a["variants"])))
        if inc.get("killed"):
            tallies["killed"][1] += 1
            dead = r["size"]["dead"] or {}
            tallies["killed"][0] += [dead.get("low"), dead.get("high")] == list(inc["killed"])
    found = sum(1 for g, inc in incidents.items() if inc["kind"] != "background")
    return {"incidents_found": sum(1 for g, inc in incidents.items() if inc["kind"] != "background" and gold_sys.get(g)),
            "incidents": found} | {k: {"n": n, "accuracy": right / n} for k, (right, n) in tallies.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe", type=Path, default=DEFAULT)
    ap.add_argument("--model", default=None)
    ap.add_argument("--writers", default=None, help="comma-separated writer numbers (default: all)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--records", type=Path, default=None, help="also write the system's incident records here")
    ap.add_argument("--oracle", action="store_true", help="group the probe's own labels and spans (no model)")
    ap.add_argument("--pair-weights", type=Path, default=None,
                    help="merge with these pair weights (scripts/fit_incident_pairs.py) instead of the shipped ones")
    args = ap.parse_args()
    config = None
    if args.pair_weights:
        from conflictclf.model.events.incidents import IncidentConfig
        from conflictclf.model.events.pairs import PairModel

        config = IncidentConfig(pair_model=PairModel.from_dict(json.loads(args.pair_weights.read_text(encoding="utf-8"))))
    sentences, incidents = load(args.probe, args.writers.split(",") if args.writers else None)
    docs = articles_of(sentences)
    if args.oracle:
        from conflictclf.model.events.pipeline import incident_records

        records = incident_records(gold_articles(docs), *([config] if config else []))
    else:
        records = run_system(args.model, docs, config)
    if args.records:
        args.records.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    res = score(sentences, incidents, records, docs)
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
