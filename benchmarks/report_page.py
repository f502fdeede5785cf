"""How long the HTML report takes to build, and how big it is, for a large run.

    python benchmarks/report_page.py [--articles 1000] [--sentences 15] [--repeat 3]

Synthetic classify output (every third sentence unlabelled, two of three with a rationale)
grouped and rendered as `conflictclf report` does. Measures, does not assert: the unit
tests check the page is complete and small, this says how quick it is on a given machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

from conflictclf.cli.report_page import build_report
from conflictclf.data.results import group_articles, rows_from_records

TEXT = "Militants fired rockets at the army base near the border town overnight, officials said."


def records(n_articles: int, n_sentences: int) -> list[dict]:
    return [{"source": f"news/{a:04d}.txt", "index": i, "text": TEXT, "labels": ["attack", "claim"][: i % 3],
             "scores": {"attack": 0.9, "claim": 0.7, "retaliation": 0.1, "threat": 0.05},
             "rationales": {"attack": [{"start": 10, "end": 23, "weight": 0.5}]} if i % 3 else {}}
            for a in range(n_articles) for i in range(n_sentences)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--sentences", type=int, default=15, help="per article")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the median time is reported")
    args = ap.parse_args()
    rows = records(args.articles, args.sentences)
    times, size = [], 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        page = build_report(group_articles(rows_from_records(rows)))
        times.append(time.perf_counter() - start)
        size = len(page.encode())
    print(f"{args.articles} articles x {args.sentences} sentences: median {statistics.median(times):.2f} s "
          f"(of {args.repeat}), {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
