"""Throughput of the plain transformers pipeline against conflictclf's backends, in one run.

    python benchmarks/throughput.py [--model DIR] [--n 2000] [--repeat 3] [--backends torch,bf16,onnx,onnx-int8]

Prints sentences/s (the median of --repeat rounds, each timing every contender
once, since a shared machine's speed drifts by 10-20% from minute to minute), the
ratio to the pipeline, how far resident memory grows while each runs, and how well
each backend's labels agree with fp32 torch. Measures, does not assert: timings
belong here, not in the test suite.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from conflictclf.data.corpus import by_split, load_records
from conflictclf.model.backends import ONNX_INT8_FILE
from conflictclf.model.engines import BatchOptions, run_batch
from conflictclf.model.classifier import DEFAULT_BATCH_SIZE, EventClassifier
from conflictclf.model.paths import default_model_dir


class PeakRSS:
    """Growth of resident memory (MiB) over its level at entry, at its highest while the block runs.

    Every contender runs in this one process, so the absolute figure would mostly show
    which models happen to be loaded; the growth is what a run itself needs."""

    def __enter__(self):
        self.start = self.peak = _rss_mib()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mib())
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    @property
    def growth(self) -> float:
        return self.peak - self.start


def _rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def workload(n: int) -> tuple[list[str], int]:
    """Test-split sentences first (so agreement covers all of them), then dev and train, cycled to n.

    Returns the sentences and how many of the first ones are the test split."""
    groups = by_split(load_records())
    texts = [r.text for s in ("test", "dev", "train") for r in groups[s]]
    return [texts[i % len(texts)] for i in range(n)], len(groups["test"])


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, growth of resident memory in MiB) of one run of fn."""
    start = time.perf_counter()
    with PeakRSS() as mem:
        out = fn()
    return out, time.perf_counter() - start, mem.growth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of timed runs; the median is reported")
    ap.add_argument("--backends", default="torch,bf16,onnx,onnx-int8")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    model_dir = args.model or default_model_dir()
    texts, n_test = workload(args.n)
    backends = args.backends.split(",")
    if any(b.startswith("onnx") for b in backends) and not (model_dir / ONNX_INT8_FILE).is_file():
        from conflictclf.model.export import export_onnx

        export_onnx(model_dir, int8=True)

    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(model_dir), top_k=None, device="cpu")
    pipe(texts[:8])  # warm-up
    contenders: dict[str, Callable[[], Any]] = {"transformers pipeline (plain)": lambda: pipe(texts)}
    classifiers = {name: EventClassifier.from_pretrained(model_dir, backend=name) for name in backends}
    for name, clf in classifiers.items():
        clf.predict_proba(texts[:64], batch_size=args.batch_size)  # warm-up
        contenders[f"conflictclf {name}"] = functools.partial(clf.predict_proba, texts, batch_size=args.batch_size)
    tmp = Path(tempfile.mkdtemp())
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    batch_name = f"`conflictclf batch` end to end (auto = {_auto(model_dir)})"
    contenders[batch_name] = lambda: run_batch(src, tmp / "out.jsonl", model_dir, BatchOptions(batch_size=args.batch_size))

    # Rounds, not one contender after another: the machine's speed drifts, and every
    # contender should be timed across the same stretch of it.
    secs: dict[str, list[float]] = {name: [] for name in contenders}
    growth: dict[str, float] = dict.fromkeys(contenders, 0.0)
    last: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, fn in contenders.items():
            last[name], took, mem = timed(fn)
            secs[name].append(took)
            growth[name] = max(growth[name], mem)
    shutil.rmtree(tmp)

    rows = []
    ref = last.get("conflictclf torch")
    for name in contenders:
        row = {"backend": name, "sent_per_s": len(texts) / float(np.median(secs[name])), "rss_growth_mib": growth[name]}
        backend = name.removeprefix("conflictclf ")
        if ref is not None and backend in classifiers:
            cut = classifiers[backend].thresholds
            same = ((last[name] >= cut) == (ref >= cut)).all(axis=1)
            row |= {"agree_all": float(same.mean()), "agree_test": float(same[:n_test].mean()),
                    "max_diff": float(np.abs(last[name] - ref).max())}
        rows.append(row)
    base_rate = rows[0]["sent_per_s"]

    print(f"\n{len(texts)} sentences, median of {args.repeat} rounds, model {model_dir}, {os.cpu_count()} CPUs, "
          f"torch threads {__import__('torch').get_num_threads()}\n")
    print("| backend | sentences/s | × pipeline | RSS growth MiB | labels = fp32 (all / test split) | max score diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        agree = f"{r['agree_all']:.2%} / {r['agree_test']:.2%}" if "agree_all" in r else ""
        diff = f"{r['max_diff']:.4f}" if "max_diff" in r else ""
        print(f"| {r['backend']} | {r['sent_per_s']:.0f} | {r['sent_per_s'] / base_rate:.1f} | "
              f"{r['rss_growth_mib']:.0f} | {agree} | {diff} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def _auto(model_dir: Path) -> str:
    from conflictclf.model.classifier import resolve_backend

    return resolve_backend("auto", model_dir)


if __name__ == "__main__":
    main()
