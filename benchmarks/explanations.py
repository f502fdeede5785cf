"""How faithful and how costly `classify --explain`'s rationales are.

    python benchmarks/explanations.py [--model DIR] [--sets test,news,probe] [--limit N] [--cost-only]

Faithfulness, after ERASER (DeYoung et al., 2020), for every (sentence, assigned
label) pair: with p the label's score on the whole sentence,

- comprehensiveness = p - p(sentence without the rationale): higher is better;
  `flipped` is the share where that deletion takes the label below its threshold;
- sufficiency = p - p(the rationale alone): lower is better; `kept` is the share
  where the rationale alone still scores at or above the threshold.

Scores here come from the classifier's full decision path (checked int8 with the
fp32 recheck), not the cheap path the explainer itself searches with. Two baselines
get exactly as many words as our rationale, sentence by sentence:

- random: spans of the same lengths as ours, at random places (seeded);
- keyword: words of a fixed per-label lexicon (`LEXICON`, written for this
  benchmark, not learned), then the words next to them, then random words.

Cost: explaining one seed article (`data/articles/002_...`, 23 sentences) as
`classify --explain` does, after loading, with the ONNX engines on 2 threads.
Measures, does not assert: the figures go to the README.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from conflictclf.model.explain import delete_spans, explain_labels, keep_spans, word_spans

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "test": None,  # the test split of data/corpus
    "news": ROOT / "data" / "probe" / "news.jsonl",
    "probe": ROOT / "data" / "probe" / "probe.jsonl",
}
COST_ARTICLE = ROOT / "data" / "articles" / "002_6de1bcf2359c4b2d.txt"
# The words a reader would look for first; the keyword baseline's rationale.
LEXICON = {
    "attack": "attack attacked attacks attacking strike strikes struck airstrike airstrikes fired fire firing "
              "shelled shelling bombed bombing bomb bombs killed killing kill wounded injured raid raids rocket "
              "rockets missile missiles drone drones ambush ambushed explosion blast exploded clashes gunmen "
              "assault stormed hit destroyed shot launched targeted",
    "claim": "claimed claim claims claiming responsibility credit statement said says announced admitted "
             "acknowledged behind carried executed conducted our we its fighters operation",
    "retaliation": "retaliation retaliatory retaliate retaliated response respond responded revenge avenge "
                   "avenged avenging reprisal reprisals answer payback return after following punish",
    "threat": "warned warning warns threatened threatens threat threats vowed vow vows promised pledged will "
              "would ultimatum consequences prepare ready unless if price",
}


def load_set(name: str) -> list[str]:
    from conflictclf.data.corpus import by_split, load_records

    records = by_split(load_records())["test"] if SETS[name] is None else load_records([SETS[name]])
    return [r.text for r in records]


def rationale_words(text: str, spans: Sequence[tuple[int, int]], max_length: int) -> list[int]:
    words = word_spans(text, max_length)
    return [i for i, (s, e) in enumerate(words) if any(s >= a and e <= b for a, b in spans)]


def runs(indices: list[int]) -> list[int]:
    """Lengths of the runs of consecutive indices."""
    out: list[int] = []
    for k, i in enumerate(indices):
        if k and i == indices[k - 1] + 1:
            out[-1] += 1
        else:
            out.append(1)
    return out


def random_words(n: int, lengths: list[int], rng: random.Random) -> list[int]:
    """Spans of the given lengths at random, non-overlapping places among n words."""
    for _ in range(100):
        taken: set[int] = set()
        for length in sorted(lengths, reverse=True):
            free = [s for s in range(n - length + 1) if not any(i in taken for i in range(s, s + length))]
            if not free:
                break
            s = rng.choice(free)
            taken.update(range(s, s + length))
        else:
            return sorted(taken)
    return sorted(rng.sample(range(n), min(n, sum(lengths))))


def keyword_words(text: str, label: str, k: int, max_length: int, rng: random.Random) -> list[int]:
    words = word_spans(text, max_length)
    lex = set(LEXICON.get(label, "").split())
    hits = [i for i, (s, e) in enumerate(words) if text[s:e].lower() in lex]
    chosen = hits[:k]
    # then the nearest neighbours of the hits, then random words, up to k
    rest = sorted((i for i in range(len(words)) if i not in chosen),
                  key=lambda i: (min((abs(i - h) for h in hits), default=10**6), rng.random()))
    return sorted(chosen + rest[:k - len(chosen)])


def faithfulness(clf, texts: list[str], seed: int = 0) -> dict[str, dict[str, float]]:
    """ERASER figures for our rationales and the two baselines on `texts`."""
    rng = random.Random(seed)
    probs = clf.predict_proba(texts)
    preds = clf.decide(probs)
    found = explain_labels(clf, texts, [p.labels for p in preds])
    col = {lab: j for j, lab in enumerate(clf.labels)}
    cases = []  # (text index, label, method, word indices)
    for t, (text, pred, rats) in enumerate(zip(texts, preds, found)):
        words = word_spans(text, clf.max_length)
        for lab in pred.labels:
            ours = rationale_words(text, [(r.start, r.end) for r in rats[lab]], clf.max_length)
            if not ours:
                continue
            cases.append((t, lab, "ours", ours))
            cases.append((t, lab, "random", random_words(len(words), runs(ours), rng)))
            cases.append((t, lab, "keyword", keyword_words(text, lab, len(ours), clf.max_length, rng)))
    variants = []
    for t, _, _, idx in cases:
        words = word_spans(texts[t], clf.max_length)
        variants.append(delete_spans(texts[t], [words[i] for i in idx]))
        variants.append(keep_spans(texts[t], [words[i] for i in idx]))
    scores = clf.predict_proba(variants) if variants else np.zeros((0, len(clf.labels)))
    out: dict[str, dict[str, list[float]]] = {}
    for k, (t, lab, method, idx) in enumerate(cases):
        c, full = col[lab], float(probs[t, col[lab]])
        p_del, p_keep = float(scores[2 * k, c]), float(scores[2 * k + 1, c])
        m = out.setdefault(method, {"comprehensiveness": [], "sufficiency": [], "flipped": [], "kept": [], "words": []})
        m["comprehensiveness"].append(full - p_del)
        m["sufficiency"].append(full - p_keep)
        m["flipped"].append(float(p_del < clf.thresholds[c]))
        m["kept"].append(float(p_keep >= clf.thresholds[c]))
        m["words"].append(len(idx))
    return {method: {key: statistics.fmean(v) for key, v in m.items()} | {"n": len(m["words"])}
            for method, m in out.items()}


def cost(clf, repeat: int) -> dict[str, float]:
    """Seconds to classify and explain the cost article's sentences, as `classify --explain` does."""
    from conflictclf.data.segment import segment
    from conflictclf.model.articles import classify_articles

    text = COST_ARTICLE.read_text(encoding="utf-8")
    times, cpu, explained = [], [], 0
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        rows = classify_articles(clf, [("a", text)])
        explain_labels(clf, [r.text for r in rows], [r.labels for r in rows])
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        explained = sum(bool(r.labels) for r in rows)
    start = time.perf_counter()
    classify_articles(clf, [("a", text)])
    plain = time.perf_counter() - start
    return {"sentences": len(segment(text)), "labelled": explained, "seconds_median": statistics.median(times),
            "seconds_min": min(times), "cpu_seconds_median": statistics.median(cpu),
            "classify_only_seconds": plain, "load_average": os.getloadavg()[0]}


def main() -> None:
    from conflictclf.model.classifier import EventClassifier

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--sets", default="test,news,probe")
    ap.add_argument("--limit", type=int, default=None, help="first N sentences of each set (quick runs)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cost-only", action="store_true")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    clf = EventClassifier.from_pretrained(args.model, threads=args.threads)
    report: dict = {"model": str(clf.path), "backend": clf.backend.name}
    if not args.cost_only:
        for name in args.sets.split(","):
            texts = load_set(name)[:args.limit]
            start = time.perf_counter()
            report[name] = faithfulness(clf, texts)
            print(f"{name} ({len(texts)} sentences, {time.perf_counter() - start:.0f}s)")
            print(f"  {'method':8} {'pairs':>5} {'words':>5} {'compr.':>7} {'flipped':>7} {'suff.':>7} {'kept':>7}")
            for method, m in report[name].items():
                print(f"  {method:8} {m['n']:5d} {m['words']:5.2f} {m['comprehensiveness']:7.3f} "
                      f"{m['flipped']:7.1%} {m['sufficiency']:7.3f} {m['kept']:7.1%}")
    report["cost"] = cost(clf, args.repeat)
    c = report["cost"]
    print(f"cost: {c['sentences']} sentences ({c['labelled']} labelled): classify + explain "
          f"{c['seconds_median']:.2f}s median ({c['seconds_min']:.2f}s best) of {args.repeat}, "
          f"{c['cpu_seconds_median']:.2f} CPU-s; classify alone {c['classify_only_seconds']:.2f}s; "
          f"load average {c['load_average']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
