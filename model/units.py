"""The committed unit of a Ray job: one byte range (or Parquet row groups) in, its parts out.

A unit streams its rows in chunks of `chunk_size` and writes each chunk as a part
(`part-K-J`, rejects in `rejects-K-J.jsonl`), each atomically under a name fixed by
the plan; then `done-K.json` with the unit's counts is written, last and atomically.
A unit is finished exactly when its done file exists, so a retried unit (a worker
died) overwrites its own parts instead of adding rows, and a resumed job skips the
units with a done file. The work folder sits next to OUTPUT and is removed once the
output is assembled.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
from pathlib import Path
from typing import Any

from conflictclf.data.files import atomic_write_text
from conflictclf.data.ranges import Unit, read_unit
from conflictclf.model.batch import BatchOptions, classify_part, jsonl_text, reject, write_part
from conflictclf.model.classifier import EventClassifier
from conflictclf.model.errors import InputError

PLAN_FILE = "plan.json"
COUNTS = ("read", "classified", "rejected", "output_rows")


def part_name(k: int, j: int, fmt: str) -> str:
    return f"part-{k:06d}-{j:04d}.{fmt}"  # a Parquet part is files part-K-J-sNNN.parquet (parquet_fit)


def rejects_name(k: int, j: int) -> str:
    return f"rejects-{k:06d}-{j:04d}.jsonl"


def done_name(k: int) -> str:
    return f"done-{k:06d}.json"


def run_unit(clf: EventClassifier, unit: Unit, opts: BatchOptions, work: Path, out_fmt: str) -> dict[str, Any]:
    """Classify one unit into its parts and commit it; returns its counts (also in its done file)."""
    k = unit["k"]
    counts: dict[str, Any] = dict.fromkeys(COUNTS, 0) | {"parts": 0}
    good: list[tuple[str, int, dict]] = []
    bad: list[dict] = []

    def flush() -> None:
        rows, rejects, classified, n_out = classify_part(clf, good, opts, out_fmt)
        rejects = sorted(bad + rejects, key=lambda r: r["line"])
        j = counts["parts"]
        write_part(work / part_name(k, j, out_fmt), out_fmt, clf.labels, rows)
        atomic_write_text(work / rejects_name(k, j), jsonl_text(rejects))
        counts["read"] += len(good) + len(bad)
        counts["classified"] += classified
        counts["rejected"] += len(rejects)
        counts["output_rows"] += n_out
        counts["parts"] += 1
        good.clear()
        bad.clear()

    for n, rec, reason in read_unit(unit):
        if rec is None:
            bad.append(reject(unit["file"], n, reason or "unreadable row"))
        else:
            good.append((unit["file"], n, rec))
        if len(good) + len(bad) >= opts.chunk_size:
            flush()
    if good or bad or not counts["parts"]:
        flush()
    counts["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    counts["rss_mb"] = _rss_mb()
    counts["pid"] = os.getpid()  # which worker ran it (a restarted worker has a new pid)
    atomic_write_text(work / done_name(k), json.dumps(counts))
    return counts


def _peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def _rss_mb() -> float | None:
    """Resident memory now (Linux only: /proc), to tell a growing worker from one that peaked once."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * resource.getpagesize() / (1 << 20), 1)


def open_work(work: Path, key: dict[str, Any], units: list[Unit], resume: bool) -> dict[int, dict[str, Any]]:
    """Start a work folder, or reopen an interrupted one (with --resume); returns the finished units."""
    plan = work / PLAN_FILE
    if not plan.exists():
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        atomic_write_text(plan, json.dumps({"key": key, "units": units}))
        return {}
    if not resume:
        raise InputError(f"{work}: an interrupted run left its work here; pass --resume to continue it, "
                         "or delete the folder to start over")
    saved = json.loads(plan.read_text(encoding="utf-8"))
    if saved.get("key") != key or saved.get("units") != units:
        raise InputError("cannot resume: the input, model or options differ from the interrupted run")
    done = {}
    for u in units:
        f = work / done_name(u["k"])
        if f.exists():
            done[u["k"]] = json.loads(f.read_text(encoding="utf-8"))
    return done
