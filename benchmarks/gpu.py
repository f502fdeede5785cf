"""The GPU path, timed as whole processes: `conflictclf batch` against a plain pipeline on the same GPU.

    python benchmarks/gpu.py [--model DIR] [--n 20000] [--repeat 2]
                             [--pipeline-batch-sizes 32,64,128,256] [--pipeline-dtypes float32,float16]

For a person with a CUDA GPU; without one it says so and exits 2. Like end_to_end.py (the
CPU benchmark, whose workload and process runner it reuses), every contender is a fresh
`python` process, so import, model loading, CUDA start-up and file I/O count. Two
workloads of --n rows: end_to_end's news-length sentences (25+ words), and a real-register
mix (the bundled news probe's headlines and body sentences as they come, repeated), where
length-sorted batches save most padding. `batch` runs the default backend (`auto`: on a
GPU, torch in bf16 where the card has it, else fp16); the plain pipeline
(`transformers.pipeline("text-classification", device=0)`) is tried at every batch size
and dtype given, and the ratio is to the fastest. Labels are compared with the fp32
pipeline's (when float32 is among the dtypes) cut at the model's tuned thresholds.
Measures, does not assert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

# run as `python benchmarks/gpu.py`: the repository root holds the `benchmarks` package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.end_to_end import news_sentences, run  # noqa: E402
from conflictclf.data.corpus import bundled_probe_files, read_jsonl  # noqa: E402
from conflictclf.model.classifier import read_meta  # noqa: E402
from conflictclf.model.paths import default_model_dir  # noqa: E402

NO_GPU_EXIT = 2
PIPELINE_SCRIPT = """
import inspect, json, sys
import torch
from transformers import pipeline
model, src, dst, bs, dtype = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
texts = [json.loads(line)["text"] for line in open(src, encoding="utf-8")]
# transformers 4.56 renamed torch_dtype to dtype
key = "dtype" if "dtype" in inspect.signature(pipeline).parameters else "torch_dtype"
pipe = pipeline("text-classification", model=model, top_k=None, device=0, **{key: getattr(torch, dtype)})
with open(dst, "w", encoding="utf-8") as out:
    for row in pipe(texts, batch_size=bs):
        out.write(json.dumps({d["label"]: d["score"] for d in row}) + "\\n")
"""


def gpu_name() -> str | None:
    """The first CUDA device's name, or None where torch sees no GPU."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def real_register(n: int) -> list[str]:
    """n sentences of the bundled news probe (headlines and body sentences), in file order, repeated."""
    news = [p for p in bundled_probe_files() if p.name == "news.jsonl"]
    texts = [r.text for p in news for r in read_jsonl(p)]
    if not texts:
        raise SystemExit("error: the bundled news probe (data/probe/news.jsonl) is missing")
    return [texts[i % len(texts)] for i in range(n)]


def contenders(model: Path, src: Path, tmp: Path, tag: str, sizes: list[str], dtypes: list[str]
               ) -> dict[str, list[str]]:
    script = tmp / "pipeline_script.py"
    script.write_text(PIPELINE_SCRIPT, encoding="utf-8")
    out = {f"plain pipeline, {dt}, batch {bs}": [sys.executable, str(script), str(model), str(src),
                                                  str(tmp / f"{tag}-pipe-{dt}-{bs}.jsonl"), bs, dt]
           for dt in dtypes for bs in sizes}
    out["`conflictclf batch` (default backend)"] = [sys.executable, "-m", "conflictclf.cli.main", "batch", str(src),
                                                    str(tmp / f"{tag}-batch.jsonl"), "--model", str(model), "--quiet"]
    return out


def workload_table(name: str, texts: list[str], model: Path, tmp: Path, args: argparse.Namespace) -> None:
    src = tmp / f"{name}.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    sizes, dtypes = args.pipeline_batch_sizes.split(","), args.pipeline_dtypes.split(",")
    cmds = contenders(model, src, tmp, name, sizes, dtypes)
    secs: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(args.repeat):
        for k, cmd in cmds.items():
            secs[k].append(run([str(c) for c in cmd]))
    rate = {k: len(texts) / statistics.median(v) for k, v in secs.items()}
    best = max(v for k, v in rate.items() if k.startswith("plain"))
    backend = json.loads((tmp / f"{name}-batch.jsonl.manifest.json").read_text())["model"]["backend"]
    words = statistics.mean(len(t.split()) for t in texts)
    print(f"\n{name}: {len(texts)} sentences (mean {words:.1f} words); `batch` ran backend {backend}\n")
    print("| what runs | sentences/s | × best plain pipeline | seconds |")
    print("|---|---:|---:|---:|")
    for k in cmds:
        print(f"| {k} | {rate[k]:.0f} | {rate[k] / best:.1f} | {statistics.median(secs[k]):.1f} |")
    if "float32" in dtypes:
        meta = read_meta(model)
        labels, cut = meta["labels"], meta["thresholds"]
        ref = [json.loads(x) for x in (tmp / f"{name}-pipe-float32-{sizes[-1]}.jsonl").open(encoding="utf-8")]
        ours = [json.loads(x) for x in (tmp / f"{name}-batch.jsonl").open(encoding="utf-8")]
        agree = sum({lab for lab in labels if p[lab] >= cut[lab]} == set(o["labels"]) for p, o in zip(ref, ours))
        print(f"\n`batch` labels equal the fp32 pipeline's on {agree / len(texts):.2%} of sentences")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=20000, help="rows per workload (a GPU needs many to pass start-up)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds; the median time is reported")
    ap.add_argument("--pipeline-batch-sizes", default="32,64,128,256")
    ap.add_argument("--pipeline-dtypes", default="float32,float16")
    args = ap.parse_args()
    card = gpu_name()
    if card is None:
        print("no CUDA GPU is visible to torch: this benchmark times the GPU path and needs one "
              "(benchmarks/end_to_end.py is the CPU benchmark)", file=sys.stderr)
        return NO_GPU_EXIT
    model = (args.model or default_model_dir()).resolve()
    meta = read_meta(model)
    tmp = Path(tempfile.mkdtemp(prefix="conflictclf-gpu-bench-"))
    print(f"GPU {card}; model {model.name} ({meta['config'].get('base_model')}); whole processes, "
          f"median of {args.repeat} rounds")
    workload_table("news-length", news_sentences(args.n), model, tmp, args)
    workload_table("real-register", real_register(args.n), model, tmp, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
