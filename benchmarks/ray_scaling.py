"""Ray engine throughput with 1 and 2 workers on a local Ray, against the local engine.

    python benchmarks/ray_scaling.py [--model DIR] [--n 8000] [--workers 1,2] [--units-per-worker 4]

The Ray engine runs at most one worker per unit, and the default unit (32 MiB) holds the
whole benchmark input (about 1 MiB), so the input is cut into units of a size that gives
every worker `--units-per-worker` of them; the table reports the workers that actually ran.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from conflictclf.model.engines import BatchOptions, run_batch
from conflictclf.model.paths import default_model_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--units-per-worker", type=int, default=4, help="units per worker at the most workers asked")
    args = ap.parse_args()
    import ray

    from benchmarks.throughput import workload
    from conflictclf.model.engines.ray import run_batch_ray

    model = args.model or default_model_dir()
    texts, _ = workload(args.n)
    opts = BatchOptions(backend=args.backend)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
        start = time.perf_counter()
        run_batch(src, Path(tmp) / "local.jsonl", model, opts)
        rows.append(("local engine", args.n / (time.perf_counter() - start)))
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
        counts = [int(w) for w in args.workers.split(",")]
        ray_opts = replace(opts, block_bytes=max(1, src.stat().st_size // (max(counts) * args.units_per_worker)))
        for w in counts:
            out = Path(tmp) / f"ray{w}.jsonl"
            start = time.perf_counter()
            run_batch_ray(src, out, model, ray_opts, workers=w)
            rate = args.n / (time.perf_counter() - start)
            ran = json.loads(out.with_name(out.name + ".manifest.json").read_text())["ray"]
            if ran["workers"] != w:
                raise SystemExit(f"asked for {w} workers, {ran['workers']} ran ({ran['units']} units)")
            rows.append((f"ray, {w} worker{'s' if w > 1 else ''} ({ran['units']} units)", rate))
    print(f"\n{args.n} sentences, {os.cpu_count()} CPUs, backend {args.backend}, wall time incl. model loads; "
          f"ray units of {ray_opts.block_bytes} bytes\n")
    print("| engine | sentences/s |\n|---|---:|")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f} |")


if __name__ == "__main__":
    main()
