"""What a user runs, timed as whole processes: `conflictclf batch` against a plain pipeline script.

    python benchmarks/end_to_end.py [--model DIR] [--n 4000] [--repeat 2] [--articles 300] [--workload news|mix]

Every contender is a fresh `python` process started the way a user starts it, so import,
model loading and file I/O count. Two workloads of --n rows (mean length printed):
`news`, news-length sentences (team-written corpus sentences of 25+ words, plus
consecutive pairs of shorter ones from the same document joined into one sentence), and
`mix`, real-register sentences as they come (the bundled probes' headlines and body
sentences of every length, in order, repeated to --n), where the labels of both contenders
are also scored against the probes' gold labels. The plain pipeline is
`transformers.pipeline("text-classification", top_k=None)` on the same model directory,
tried at batch sizes 1 and 32; the ratio is to whichever was faster. Labels of `batch`
are compared with the pipeline's fp32 scores cut at the model's tuned thresholds.
Measures, does not assert: timings belong here, not in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conflictclf.data.corpus import load_records
from conflictclf.model.classifier import read_meta
from conflictclf.model.paths import default_model_dir

PIPELINE_SCRIPT = """
import json, sys
from transformers import pipeline
model, src, dst, bs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
texts = [json.loads(line)["text"] for line in open(src, encoding="utf-8")]
pipe = pipeline("text-classification", model=model, top_k=None, device="cpu")
with open(dst, "w", encoding="utf-8") as out:
    for row in pipe(texts, batch_size=bs):
        out.write(json.dumps({d["label"]: d["score"] for d in row}) + "\\n")
"""


def news_sentences(n: int) -> list[str]:
    """n distinct news-length sentences built from the bundled corpus (see module docstring)."""
    by_doc: dict[str, list[str]] = {}
    for r in load_records():
        by_doc.setdefault(r.doc or r.id, []).append(r.text.strip())
    long, pairs = [], []
    for sents in by_doc.values():
        short = []
        for s in sents:
            (long if len(s.split()) >= 25 else short).append(s)
        for a, b in zip(short[::2], short[1::2]):
            pairs.append(f"{a.rstrip('.')}; {b[0].lower()}{b[1:]}" if b[:2].istitle() else f"{a.rstrip('.')}; {b}")
    out = long + pairs
    return out[:n] if len(out) >= n else [out[i % len(out)] for i in range(n)]


def mixed_sentences(n: int) -> tuple[list[str], list[list[str]]]:
    """n real-register rows: the bundled probes' sentences in order, repeated; and the gold
    labels of the first pass (one per distinct probe sentence)."""
    from conflictclf.data.corpus import bundled_probe_files, read_jsonl

    records = [r for path in bundled_probe_files() for r in read_jsonl(path)]
    texts = [records[i % len(records)].text for i in range(n)]
    return texts, [r.labels for r in records[:n]]


def macro_f1(gold: list[list[str]], pred: list[set[str]], labels: list[str]) -> float:
    from sklearn.metrics import f1_score

    y = [[lab in g for lab in labels] for g in gold]
    p = [[lab in q for lab in labels] for q in pred]
    return float(f1_score(y, p, average="macro", zero_division=0))


def articles(k: int) -> list[str]:
    """The first k team-written documents, each joined into one article text."""
    by_doc: dict[str, list[str]] = {}
    for r in load_records():
        if r.source == "written":
            by_doc.setdefault(r.doc or r.id, []).append(r.text.strip())
    return ["\n\n".join(s) for s in list(by_doc.values())[:k]]


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=2, help="rounds; the median time is reported")
    ap.add_argument("--pipeline-batch-sizes", default="1,32")
    ap.add_argument("--workload", choices=("news", "mix"), default="news")
    args = ap.parse_args()
    model = (args.model or default_model_dir()).resolve()
    meta = read_meta(model)
    gold: list[list[str]] = []
    if args.workload == "news":
        texts = news_sentences(args.n)
    else:
        texts, gold = mixed_sentences(args.n)
    words = statistics.mean(len(t.split()) for t in texts)
    tmp = Path(tempfile.mkdtemp(prefix="conflictclf-bench-"))
    src = tmp / "news.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    docs = tmp / "articles.jsonl"
    docs.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(articles(args.articles))),
                    encoding="utf-8")
    script = tmp / "pipeline_script.py"
    script.write_text(PIPELINE_SCRIPT, encoding="utf-8")
    cli = [sys.executable, "-m", "conflictclf.cli.main"]

    contenders = {f"plain pipeline, batch {bs}": [sys.executable, str(script), str(model), str(src),
                                                  str(tmp / f"pipe{bs}.jsonl"), bs]
                  for bs in args.pipeline_batch_sizes.split(",")}
    contenders["`conflictclf batch` (default backend)"] = cli + ["batch", str(src), str(tmp / "batch.jsonl"),
                                                               "--model", str(model), "--quiet"]
    segment = cli + ["batch", str(docs), str(tmp / "seg.jsonl"), "--model", str(model), "--segment", "--quiet"]
    contenders["`conflictclf batch --segment` on articles"] = segment
    secs: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(args.repeat):
        for name, cmd in contenders.items():
            secs[name].append(run([str(c) for c in cmd]))
    seg_rows = sum(1 for _ in (tmp / "seg.jsonl").open(encoding="utf-8"))

    labels, cut = meta["labels"], meta["thresholds"]
    pipe_rows = [json.loads(x) for x in (tmp / f"pipe{args.pipeline_batch_sizes.split(',')[-1]}.jsonl").open()]
    ours = [json.loads(x) for x in (tmp / "batch.jsonl").open()]
    pipe_labels = [{lab for lab in labels if p[lab] >= cut[lab]} for p in pipe_rows]
    agree = sum(p == set(o["labels"]) for p, o in zip(pipe_labels, ours))

    rate = {k: (seg_rows if "segment" in k else len(texts)) / statistics.median(v) for k, v in secs.items()}
    best = max(v for k, v in rate.items() if k.startswith("plain"))
    backend = json.loads((tmp / "batch.jsonl.manifest.json").read_text())["model"]["backend"]
    print(f"\n{len(texts)} {args.workload} sentences (mean {words:.1f} words) and {args.articles} articles ({seg_rows} sentences), "
          f"model {model.name} ({meta['config'].get('base_model')}), default backend {backend}, "
          f"{os.cpu_count()} CPUs, whole processes, median of {args.repeat} rounds\n")
    print("| what runs | sentences/s | × best plain pipeline | seconds |")
    print("|---|---:|---:|---:|")
    for k in contenders:
        print(f"| {k} | {rate[k]:.0f} | {rate[k] / best:.1f} | {statistics.median(secs[k]):.1f} |")
    print(f"\n`batch` labels equal the pipeline's fp32 labels on {agree / len(texts):.2%} of sentences")
    if gold:
        k = len(gold)
        print(f"macro-F1 against the probes' gold labels ({k} sentences): fp32 pipeline "
              f"{macro_f1(gold, pipe_labels[:k], labels):.4f}, `batch` "
              f"{macro_f1(gold, [set(o['labels']) for o in ours[:k]], labels):.4f}")


if __name__ == "__main__":
    main()
