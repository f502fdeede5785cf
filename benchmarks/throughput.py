"""Throughput of the plain transformers pipeline against conflictclf's backends, in one run.

    python benchmarks/throughput.py [--model DIR] [--n 2000] [--repeat 3] [--backends torch,bf16,onnx,onnx-int8]

Prints sentences/s (the median of --repeat timed runs, since a shared machine's
speed drifts by 10-20% from minute to minute), the ratio to the pipeline, peak
resident memory while each runs, and how well each backend's labels agree with fp32
torch. Measures, does not assert: timings belong here, not in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from conflictclf.data.corpus import by_split, load_records
from conflictclf.model.backends import ONNX_INT8_FILE
from conflictclf.model.batch import BatchOptions, run_batch
from conflictclf.model.classifier import DEFAULT_BATCH_SIZE, EventClassifier
from conflictclf.model.paths import default_model_dir


class PeakRSS:
    """Highest resident set size (MiB) seen while the block runs, sampled every 10 ms."""

    def __enter__(self):
        self.peak, self._stop = 0.0, threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self):
        page = os.sysconf("SC_PAGE_SIZE") / 2**20
        while not self._stop.is_set():
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * page
            self.peak = max(self.peak, rss)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def workload(n: int) -> tuple[list[str], int]:
    """Test-split sentences first (so agreement covers all of them), then dev and train, cycled to n.

    Returns the sentences and how many of the first ones are the test split."""
    groups = by_split(load_records())
    texts = [r.text for s in ("test", "dev", "train") for r in groups[s]]
    return [texts[i % len(texts)] for i in range(n)], len(groups["test"])


def timed(fn, repeat: int):
    """(last result, median seconds, highest peak RSS) over `repeat` runs of fn."""
    secs, peak = [], 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        with PeakRSS() as mem:
            out = fn()
        secs.append(time.perf_counter() - start)
        peak = max(peak, mem.peak)
    return out, float(np.median(secs)), peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per row; the median is reported")
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
    _, secs, mem = timed(lambda: pipe(texts), args.repeat)
    rows = [{"backend": "transformers pipeline (plain)", "sent_per_s": len(texts) / secs, "peak_mib": mem}]
    base_rate = rows[0]["sent_per_s"]

    ref_probs, ref_labels = None, None
    for name in backends:
        clf = EventClassifier.from_pretrained(model_dir, backend=name)
        clf.predict_proba(texts[:64], batch_size=args.batch_size)  # warm-up
        probs, secs, mem = timed(lambda: clf.predict_proba(texts, batch_size=args.batch_size), args.repeat)
        labels = probs >= clf.thresholds
        if name == "torch":
            ref_probs, ref_labels = probs, labels
        row = {"backend": f"conflictclf {name}", "sent_per_s": len(texts) / secs, "peak_mib": mem}
        if ref_probs is not None:
            same = (labels == ref_labels).all(axis=1)
            row["agree_all"] = float(same.mean())
            row["agree_test"] = float(same[:n_test].mean())
            row["max_diff"] = float(np.abs(probs - ref_probs).max())
        rows.append(row)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
        summary, secs, mem = timed(lambda: run_batch(src, Path(tmp) / "out.jsonl", model_dir,
                                                     BatchOptions(batch_size=args.batch_size)), args.repeat)
        rows.append({"backend": f"`conflictclf batch` end to end (auto = {_auto(model_dir)})",
                     "sent_per_s": summary.read / secs, "peak_mib": mem})

    print(f"\n{len(texts)} sentences, median of {args.repeat} runs, model {model_dir}, {os.cpu_count()} CPUs, "
          f"torch threads {__import__('torch').get_num_threads()}\n")
    print("| backend | sentences/s | × pipeline | peak RSS MiB | labels = fp32 (all / test split) | max score diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        agree = f"{r['agree_all']:.2%} / {r['agree_test']:.2%}" if "agree_all" in r else ""
        diff = f"{r['max_diff']:.4f}" if "max_diff" in r else ""
        print(f"| {r['backend']} | {r['sent_per_s']:.0f} | {r['sent_per_s'] / base_rate:.1f} | "
              f"{r['peak_mib']:.0f} | {agree} | {diff} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def _auto(model_dir: Path) -> str:
    from conflictclf.model.classifier import resolve_backend

    return resolve_backend("auto", model_dir)


if __name__ == "__main__":
    main()
