"""Worker memory of the Ray engine on a JSONL file many blocks long: flat, or growing with the file?

    python -m benchmarks.ray_memory [--model DIR] [--block-kib 1024] [--blocks 20] [--workers 2]

Writes a JSONL file of about `blocks` x the block size, runs `batch --engine ray` on it
and prints each unit's worker memory (peak so far and current RSS after the unit, as
the manifest records them), so a worker whose memory grew with the file would show.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from conflictclf.model.engines import BatchOptions
from conflictclf.model.paths import default_model_dir

SENTENCES = ["Militia fired rockets at the base near the port, officials said on {d}.",
             "The group claimed responsibility for the attack in a statement posted on {d}.",
             "Ministers met in the capital on {d} to discuss the budget and the weather.",
             "The army vowed to respond to the strike on the convoy, a spokesman said on {d}."]


def write_input(path: Path, size: int) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < size:
            fh.write(json.dumps({"id": n, "text": SENTENCES[n % 4].format(d=f"day {n}")}) + "\n")
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--block-kib", type=int, default=1024)
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args()
    import ray

    from conflictclf.model.engines.ray import run_batch_ray

    block = args.block_kib << 10
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        n = write_input(src, args.blocks * block)
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
        start = time.perf_counter()
        s = run_batch_ray(src, Path(tmp) / "out.jsonl", args.model or default_model_dir(),
                          BatchOptions(backend=args.backend, block_bytes=block), workers=args.workers)
        secs = time.perf_counter() - start
        ray_info = json.loads(Path(s.manifest).read_text())["ray"]
        print(f"\ninput {src.stat().st_size / 2**20:.1f} MiB, {n} rows, block {args.block_kib} KiB "
              f"-> {ray_info['units']} units; {args.workers} workers; {secs:.0f} s ({n / secs:.0f} rows/s)\n")
        print("| unit | worker | peak RSS so far (MiB) | RSS after the unit (MiB) |\n|---:|---:|---:|---:|")
        pids = list(dict.fromkeys(ray_info["unit_worker_pid"]))
        rows = list(zip(ray_info["unit_worker_pid"], ray_info["unit_peak_rss_mb"], ray_info["unit_rss_mb"]))
        for k, (pid, peak, now) in enumerate(rows):
            print(f"| {k} | {pids.index(pid)} | {peak} | {now} |")
        print()
        for w, pid in enumerate(pids):  # a worker's own series: flat, or growing with the units it ran?
            now = [r[2] for r in rows if r[0] == pid and r[2] is not None]
            if now:
                print(f"worker {w}: {len(now)} units, RSS after its first unit {now[0]} MiB, after its last "
                      f"{now[-1]} MiB (min {min(now)}, max {max(now)})")

if __name__ == "__main__":
    main()
