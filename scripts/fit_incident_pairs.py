"""Fit the incident pair model's weights on incident probe writers, and write them where the
package reads them (model/events/pair_weights.json).

    python scripts/fit_incident_pairs.py --writers 1,2,3
    python scripts/fit_incident_pairs.py --writers 1,2 --output /tmp/w12.json
    python scripts/eval_incidents.py --writers 3 --pair-weights /tmp/w12.json   # the writer left out

Pairs come from two readings of each writer's articles: the probe's own labels and spans,
and the default model's (end to end, as users run it), so the weights fit both perfect and
real role spans. Each event's incident is the one most of its sentences are annotated with.
Writers scored blind must not be among those fitted on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_incidents as probe  # noqa: E402

from conflictclf.data.files import atomic_write_text  # noqa: E402
from conflictclf.model.events.pairs import WEIGHTS_FILE  # noqa: E402


def readings(writer: str, clf, probe_dir: Path):
    """(articles, docs) for the probe's labels and for the model's, of one writer."""
    from conflictclf.model.events.pipeline import classify_for_incidents

    sentences, _ = probe.load(probe_dir, [writer])
    docs = probe.articles_of(sentences)
    dates = {d: dt.date.fromisoformat(x["date"]) for d, x in docs.items() if x["date"]}
    ran = classify_for_incidents(clf, [(d, x["text"]) for d, x in docs.items()], dates,
                                 {d: x["outlet"] for d, x in docs.items() if x["outlet"]})
    return [(probe.gold_articles(docs), docs), (ran, docs)]


def event_incident(event, docs) -> str | None:
    votes: Counter = Counter()
    for m in event.mentions + event.claims:
        s = probe.gold_sentence(docs, m.article, m.start, m.end)
        for g in (s or {}).get("incidents") or []:
            votes[g] += 1 / len(s["incidents"])
    return votes.most_common(1)[0][0] if votes else None


def pairs_of(writers: list[str], model: str | None, probe_dir: Path):
    from conflictclf.model.classifier import EventClassifier
    from conflictclf.model.events.pipeline import events_of
    from conflictclf.train.incident_pairs import candidate_pairs

    clf = EventClassifier.from_pretrained(model)  # once for every writer
    xs, ys = [], []
    for w in writers:
        for articles, docs in readings(w, clf, probe_dir):
            events = list(events_of(articles))
            x, y = candidate_pairs(events, [event_incident(e, docs) for e in events])
            xs.append(x)
            ys.append(y)
    return np.vstack(xs), np.concatenate(ys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe", type=Path, default=probe.DEFAULT)
    ap.add_argument("--writers", required=True, help="comma-separated writer numbers to fit on")
    ap.add_argument("--model", default=None, help="the classifier for the end-to-end reading (default model)")
    ap.add_argument("--c", type=float, default=None, help="inverse regularisation strength")
    ap.add_argument("--output", type=Path, default=WEIGHTS_FILE)
    args = ap.parse_args()
    from conflictclf.train.incident_pairs import DEFAULT_C, fit_pair_model

    writers = args.writers.split(",")
    x, y = pairs_of(writers, args.model, args.probe)
    c = args.c if args.c is not None else DEFAULT_C
    model = fit_pair_model(x, y, c)
    about = {"fitted_on": f"incident probe writers {', '.join(writers)}", "pairs": int(len(y)),
             "same_incident_pairs": int(y.sum()), "C": c}
    atomic_write_text(args.output, json.dumps(model.to_dict(about), indent=1) + "\n")
    print(f"{len(y)} pairs ({int(y.sum())} same incident) -> {args.output}")


if __name__ == "__main__":
    main()
