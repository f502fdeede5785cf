"""`conflictclf serve` under 1, 8 and 32 concurrent clients, against `conflictclf batch` on the same sentences.

    python benchmarks/serve.py [--model DIR] [--n 4000] [--clients 1,8,32] [--per-request 1] [--backend auto]

The sentences are end_to_end.py's news-length workload. The server is started once as a
user starts it (`conflictclf serve --port 0`) and warmed up; each client then holds one
keep-alive connection and posts `{"texts": [...]}` bodies of --per-request sentences
(default 1: one sentence per request, the hardest case for batching) until all --n are
done. Clients are threads of this process using the standard library's HTTP client,
which costs less CPU than the server spends on a request.

`batch` is timed twice: as a whole process (imports and model load included) and by its
manifest's rows/s (model load and work, no imports). The server's rate excludes its
start-up, which it pays once, so "× batch" is taken against the manifest's rate, the
higher of the two. `serve` splits each text into sentences (as `classify` does) and
`batch` does not, so the server does that extra work; labels are compared where a text
came back as one sentence. Measures, does not assert.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `benchmarks` importable when run as a script

from benchmarks.end_to_end import news_sentences, run  # noqa: E402
from conflictclf.model.paths import default_model_dir  # noqa: E402


def start_server(cli: list[str], model: Path, backend: str, max_texts: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cli + ["serve", "--model", str(model), "--port", "0", "--backend", backend,
                                   "--max-texts", str(max_texts)], stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    if not line.startswith("serving "):
        proc.kill()
        raise SystemExit(f"conflictclf serve did not start:\n{line}{proc.stderr.read()[-2000:]}")
    return proc, line.split(" at ")[1].split()[0]


def get(url: str, path: str) -> dict:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    conn.request("GET", path)
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body


def load(url: str, bodies: list[bytes], clients: int) -> tuple[float, list[list[dict]]]:
    """Post every body, `clients` at a time; seconds taken and each body's records, in order."""
    parts = urlsplit(url)
    answers: list[list[dict]] = [[] for _ in bodies]
    next_body = iter(range(len(bodies)))
    lock, failures = threading.Lock(), []
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        start.wait()
        while True:
            with lock:
                k = next(next_body, None)
            if k is None:
                break
            conn.request("POST", "/classify", bodies[k], {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                failures.append(f"HTTP {resp.status}: {data[:300]!r}")
                break
            answers[k] = json.loads(data)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    if failures:
        raise SystemExit(f"the server refused a request: {failures[0]}")
    return took, answers


def agreement(texts: list[str], answers: list[list[dict]], per_request: int, batch_out: Path) -> tuple[int, int]:
    """(texts that came back as one sentence, of those whose labels equal batch's)."""
    ours = [json.loads(x)["labels"] for x in batch_out.open(encoding="utf-8")]
    single = same = 0
    for k, records in enumerate(answers):
        for j in range(per_request):
            i = k * per_request + j
            mine = [r for r in records if r["source"] == str(j)]
            if i < len(texts) and len(mine) == 1:
                single += 1
                same += mine[0]["labels"] == ours[i]
    return single, same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=4000, help="sentences")
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--per-request", type=int, default=1, help="sentences per request")
    ap.add_argument("--backend", default="auto", help="for both serve and batch")
    args = ap.parse_args()
    model = (args.model or default_model_dir()).resolve()
    texts = news_sentences(args.n)
    tmp = Path(tempfile.mkdtemp(prefix="conflictclf-serve-bench-"))
    src = tmp / "news.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    cli = [sys.executable, "-m", "conflictclf.cli.main"]

    batch_secs = run(cli + ["batch", str(src), str(tmp / "batch.jsonl"), "--model", str(model), "--quiet",
                            "--backend", args.backend])
    manifest = json.loads((tmp / "batch.jsonl.manifest.json").read_text(encoding="utf-8"))
    batch_rate = float(manifest["rows_per_second"])

    step = args.per_request
    bodies = [json.dumps({"texts": texts[i:i + step]}).encode() for i in range(0, len(texts), step)]
    proc, url = start_server(cli, model, args.backend, max(step, 1))
    rows = []
    try:
        load(url, bodies[:32], 8)  # warm-up: first passes pay for lazy set-up
        for clients in [int(c) for c in args.clients.split(",")]:
            before = get(url, "/healthz")
            secs, answers = load(url, bodies, clients)
            after = get(url, "/healthz")
            passes = after["batches"] - before["batches"]
            rows.append((clients, len(texts) / secs, len(bodies) / max(passes, 1), secs,
                         agreement(texts, answers, step, tmp / "batch.jsonl")))
        backend = get(url, "/model")["backend"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)

    words = statistics.mean(len(t.split()) for t in texts)
    print(f"\n{len(texts)} sentences (mean {words:.1f} words), {step} per request, model {model.name}, "
          f"backend {backend}, {os.cpu_count()} CPUs\n")
    print("| what runs | clients | sentences/s | × batch | requests per forward pass | seconds | labels = batch's |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| `conflictclf batch`, whole process | | {len(texts) / batch_secs:.0f} | "
          f"{len(texts) / batch_secs / batch_rate:.2f} | | {batch_secs:.1f} | |")
    print(f"| `conflictclf batch`, manifest rows/s | | {batch_rate:.0f} | 1.00 | | "
          f"{manifest['seconds']:.1f} | |")
    for clients, rate, per_pass, secs, (single, same) in rows:
        print(f"| `conflictclf serve` | {clients} | {rate:.0f} | {rate / batch_rate:.2f} | {per_pass:.1f} | "
              f"{secs:.1f} | {same / max(single, 1):.2%} of {single} |")


if __name__ == "__main__":
    main()
