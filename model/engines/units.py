"""The committed unit of work: rows in, parts out, then a done file. Both engines run units.

A unit streams its rows in chunks of `chunk_size` and writes each chunk as a part
(`part-K-J`, rejects in `rejects-K-J.jsonl`), each atomically under a name fixed by
the plan; then `done-K.json` with the unit's counts is written, last and atomically.
A unit is finished exactly when its done file exists, so a retried unit (a Ray worker
died) overwrites its own parts instead of adding rows, and a resumed job skips the
units with a done file. The local engine's unit is one chunk of the input; the Ray
engine's a byte range (or Parquet row groups). The work folder sits next to OUTPUT
and is removed once the output is assembled.
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path
from typing import Any

from conflictclf.data.files import atomic_write_text
from conflictclf.data.ranges import Unit, read_unit
from conflictclf.data.records import jsonl_text, reject
from conflictclf.model.classifier import EventClassifier
from conflictclf.model.engines.common import (
    BatchOptions,
    commit_unit,
    new_counts,
    part_name,
    rejects_name,
    write_part,
)
from conflictclf.model.engines.rows import Row, classify_part


def flush(clf: EventClassifier, k: int, good: list[Row], bad: list[dict[str, Any]], opts: BatchOptions,
          work: Path, out_fmt: str, counts: dict[str, Any]) -> None:
    """Classify one chunk of unit `k` into its next part (rows and rejects) and add its counts."""
    part = classify_part(clf, good, opts, out_fmt)
    rejects = sorted(bad + part.rejects, key=lambda r: (r["file"], r["line"]))
    j = counts["parts"]
    write_part(work / part_name(k, j, out_fmt), out_fmt, clf.labels, part.rows)
    atomic_write_text(work / rejects_name(k, j), jsonl_text(rejects))
    for name, n in part.counts.items():
        counts[name] += n
    counts["read"] += len(good) + len(bad)
    counts["rejected"] += len(rejects)
    counts["parts"] += 1


def run_unit(clf: EventClassifier, unit: Unit, opts: BatchOptions, work: Path, out_fmt: str) -> dict[str, Any]:
    """Classify one Ray unit into its parts and commit it; returns its counts (also in its done file)."""
    k = unit["k"]
    counts = new_counts()
    good: list[Row] = []
    bad: list[dict[str, Any]] = []
    for n, rec, reason in read_unit(unit):
        if rec is None:
            bad.append(reject(unit["file"], n, reason or "unreadable row"))
        else:
            good.append((unit["file"], n, rec))
        if len(good) + len(bad) >= opts.chunk_size:
            flush(clf, k, good, bad, opts, work, out_fmt, counts)
            good, bad = [], []
    if good or bad or not counts["parts"]:
        flush(clf, k, good, bad, opts, work, out_fmt, counts)
    counts["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    counts["rss_mb"] = _rss_mb()
    counts["pid"] = os.getpid()  # which worker ran it (a restarted worker has a new pid)
    counts["backend"] = clf.backend.name  # a GPU worker resolves `auto` itself (bf16 or fp16 by its card)
    commit_unit(work, k, counts)
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
