"""The GPU path, with the device mocked (CI has no GPU): what `auto` picks, the torch backends'
device and dtype, the GPU's token budget, and the Ray engine's GPUs per worker."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.data.errors import InputError, ModelError
from conflictclf.model import EventClassifier
from conflictclf.model import backends
from conflictclf.model.backends import BACKENDS, CUDA_TOKEN_BUDGET, TorchBackend, resolve_backend
from conflictclf.model.batching import batch_bounds
from conflictclf.model.classifier import read_meta
from conflictclf.model.engines import BatchOptions
from conflictclf.model.tokenize import Tokenizer
from tests.conftest import LABELS, make_jsonl, one_line_error

runner = CliRunner()


@pytest.fixture
def gpu(monkeypatch, tmp_path):
    """A machine with a GPU driver whose card torch sees; `gpu.bf16` sets native bfloat16 support."""

    class Card:
        bf16 = True
        bf16_asked: list[dict] = []

    driver = tmp_path / "nvidia-version"
    driver.write_text("NVRM version: mocked\n")
    monkeypatch.setattr(backends, "GPU_DRIVER_FILES", (str(driver),))
    monkeypatch.setattr(backends.sys, "platform", "linux")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def bf16_supported(**kw):
        Card.bf16_asked.append(kw)
        return Card.bf16

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", bf16_supported)
    return Card


def test_auto_picks_torch_on_the_gpu_in_bf16_or_fp16_by_the_card(gpu, tiny_exported_model):
    meta = read_meta(tiny_exported_model)
    assert resolve_backend("auto", tiny_exported_model, meta, gpu=False) == "onnx-int8"  # the CPU's choice
    assert resolve_backend("auto", tiny_exported_model, meta) == "cuda-bf16"
    # emulated bf16 (pre-Ampere cards) runs slower than fp16: only native support counts
    assert gpu.bf16_asked[-1] == {"including_emulation": False}
    gpu.bf16 = False
    assert resolve_backend("auto", tiny_exported_model, meta) == "cuda-fp16"


def test_explicit_backends_win_over_a_gpu(gpu, tiny_model, tiny_exported_model):
    meta = read_meta(tiny_exported_model)
    for name in ("torch", "bf16", "onnx", "onnx-int8", "cuda-fp32"):
        assert resolve_backend(name, tiny_exported_model, meta) == name
    assert EventClassifier.from_pretrained(tiny_exported_model, backend="onnx-int8").backend.name == "onnx-int8"
    clf = EventClassifier.from_pretrained(tiny_model, backend="torch")  # the fp32 reference stays on the CPU
    assert (clf.backend.name, clf.backend.device.type, clf.backend.token_budget) == ("torch", "cpu", None)


def test_no_gpu_sign_keeps_the_cpu_logic_without_asking_torch(monkeypatch, tmp_path, tiny_exported_model):
    """Importing torch costs a short `classify` run 1-2 s; without a driver file it is not asked."""

    def must_not_ask():
        raise AssertionError("torch.cuda.is_available was called")

    monkeypatch.setattr(torch.cuda, "is_available", must_not_ask)
    monkeypatch.setattr(backends.sys, "platform", "linux")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(backends, "GPU_DRIVER_FILES", (str(tmp_path / "absent"),))
    meta = read_meta(tiny_exported_model)
    assert resolve_backend("auto", tiny_exported_model, meta) == "onnx-int8"
    driver = tmp_path / "driver"
    driver.write_text("")
    monkeypatch.setattr(backends, "GPU_DRIVER_FILES", (str(driver),))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # devices hidden: no GPU, whatever the driver
    assert resolve_backend("auto", tiny_exported_model, meta) == "onnx-int8"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a driver, but a CPU build of torch
    assert resolve_backend("auto", tiny_exported_model, meta) == "onnx-int8"


def test_a_cuda_backend_without_a_gpu_is_one_error_line(tiny_model, gpu, monkeypatch):
    gpu.bf16 = False
    with pytest.raises(ModelError, match="no native bfloat16; use cuda-fp16"):
        TorchBackend(torch.nn.Linear(2, 2), "cuda-bf16")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelError, match="torch sees no CUDA GPU"):
        EventClassifier.from_pretrained(tiny_model, backend="cuda-fp16")
    one_line_error(runner.invoke(app, ["classify", "--model", str(tiny_model), "--backend", "cuda-fp16",
                                       "--text", "militia fired rockets"]), "torch sees no CUDA GPU")


class _Recorder(torch.nn.Module):
    """Stands in for the transformer: records where it was moved and what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.moved: list = []
        self.inputs: dict = {}

    def to(self, *args, **kwargs):
        self.moved.append((args, kwargs))
        return self

    def forward(self, input_ids, attention_mask):
        self.inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        logits = torch.zeros(len(input_ids), 2, dtype=torch.float16)  # half precision, as on the card

        class Out:
            pass

        out = Out()
        out.logits = logits
        return out


@pytest.mark.parametrize("name, dtype", [("cuda-bf16", torch.bfloat16), ("cuda-fp16", torch.float16),
                                         ("cuda-fp32", torch.float32)])
def test_torch_backend_puts_model_and_inputs_on_the_chosen_device_and_dtype(gpu, name, dtype):
    model = _Recorder()
    engine = TorchBackend(model, name)
    assert model.moved == [((torch.device("cuda"),), {"dtype": dtype})]
    assert (engine.device.type, engine.dtype, engine.token_budget) == ("cuda", dtype, CUDA_TOKEN_BUDGET)
    # no real card here: send the inputs to the meta device instead, and check they go where the backend says
    engine.device = torch.device("meta")
    logits = engine(np.ones((3, 5), dtype=np.int64), np.ones((3, 5), dtype=np.int64))
    assert {t.device.type for t in model.inputs.values()} == {"meta"}
    assert logits.shape == (3, 2) and logits.dtype == np.float32  # half logits come back as float32


def test_batch_bounds_fixed_size_on_cpu_and_token_budget_on_gpu():
    short, long = [5] * 100, [60] * 5
    assert list(batch_bounds(short, 32)) == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert list(batch_bounds(short, 4, token_budget=100)) == [(0, 20), (20, 40), (40, 60), (60, 80), (80, 100)]
    # at least batch_size rows even past the budget; the budget counts padding to the longest row
    assert list(batch_bounds(long, 4, token_budget=100)) == [(0, 4), (4, 5)]
    assert list(batch_bounds([2, 2, 2, 10, 10], 1, token_budget=20)) == [(0, 3), (3, 5)]
    assert list(batch_bounds([], 4, token_budget=100)) == []


class _Shapes:
    """A backend that records each batch's shape; a row's logits depend on its own tokens only."""

    def __init__(self, token_budget):
        self.name, self.workers, self.token_budget, self.shapes = "fake", 1, token_budget, []

    def __call__(self, ids, mask):
        self.shapes.append(ids.shape)
        total = (ids * mask).sum(axis=1, keepdims=True) % 7 - 3.0
        return np.repeat(total, len(LABELS), axis=1).astype(np.float32)


def test_the_gpu_token_budget_makes_bigger_batches_with_the_same_scores(tiny_model):
    texts = [f"militia fired {' '.join(['rockets'] * (i % 5))} at the base {i % 10}" for i in range(200)]
    scores = {}
    for budget in (None, CUDA_TOKEN_BUDGET):
        engine = _Shapes(budget)
        clf = EventClassifier(Tokenizer(tiny_model, 32), engine, LABELS, [0.5] * len(LABELS))
        scores[budget] = clf.predict_proba(texts)
        sizes = [s[0] for s in engine.shapes]
        if budget is None:
            assert sizes == [32] * 6 + [8]
        else:
            assert sizes == [200] and max(s[0] * s[1] for s in engine.shapes) <= budget
    assert np.array_equal(scores[None], scores[CUDA_TOKEN_BUDGET])  # every row back in its place


def test_cli_backend_help_names_every_backend():
    from conflictclf.cli.batch import batch_cli
    from conflictclf.cli.classify import classify_cli

    for command in (batch_cli, classify_cli):
        text = inspect.signature(command).parameters["backend"].default.help
        assert all(name in text.replace(",", " ").replace(";", " ").split() for name in BACKENDS), text


# The Ray engine's GPUs per worker: option checks, worker count, actor options, backends.

@pytest.mark.parametrize("value", [-1, -0.5, float("nan"), float("inf"), 1.5, True, "1"])
def test_gpus_per_worker_refuses_bad_values(value):
    with pytest.raises(InputError, match="--gpus-per-worker"):
        BatchOptions(gpus_per_worker=value).check()


@pytest.mark.parametrize("value", [0, 0.0, 0.25, 0.5, 1, 2.0])
def test_gpus_per_worker_takes_fractions_and_whole_gpus(value):
    BatchOptions(gpus_per_worker=value).check()


def test_cli_gpus_per_worker_errors(tiny_model, tmp_path):
    src = make_jsonl(tmp_path / "in.jsonl", bad=False)
    base = ["batch", str(src), str(tmp_path / "out.jsonl"), "--model", str(tiny_model), "--backend", "torch"]
    one_line_error(runner.invoke(app, base + ["--engine", "ray", "--gpus-per-worker", "-1"]),
                   "--gpus-per-worker -1.0")
    one_line_error(runner.invoke(app, base + ["--gpus-per-worker", "1"]), "is for --engine ray")
    assert not (tmp_path / "out.jsonl").exists()


def test_actor_options_carry_the_gpus():
    from conflictclf.model.engines.ray import MAX_RESTARTS, MAX_TASK_RETRIES, actor_options

    assert actor_options(8, 2, 0.5) == {"num_cpus": 4.0, "num_gpus": 0.5, "max_restarts": MAX_RESTARTS,
                                        "max_task_retries": MAX_TASK_RETRIES}
    assert actor_options(8, 4, 0.0)["num_gpus"] == 0.0


def test_plan_workers_fits_the_gpus():
    from conflictclf.model.engines.ray import plan_workers

    assert plan_workers(None, 8, 0, 0.0, 100) == 4  # CPUs only: one per two CPUs, as before
    assert plan_workers(None, 8, 4, 0.0, 100) == 4  # GPUs in the cluster change nothing without the option
    assert plan_workers(None, 16, 1, 0.5, 100) == 2  # two workers share the card
    assert plan_workers(None, 16, 1, 0.1, 100) == 10
    assert plan_workers(None, 16, 4, 1, 3) == 3  # never more than the units
    assert plan_workers(2, 16, 4, 1, 100) == 2
    with pytest.raises(InputError, match="has 0 GPUs"):
        plan_workers(None, 16, 0, 1, 100)
    with pytest.raises(InputError, match=r"--workers 3 with --gpus-per-worker 0.5: .* has 1 GPUs \(room for 2"):
        plan_workers(3, 16, 1, 0.5, 100)


def test_ray_backends_resolve_for_the_cpu_unless_workers_get_gpus(gpu, tiny_exported_model):
    from conflictclf.model.engines.ray import backends_for

    # a GPU on the driver's machine does not move CPU-only workers onto it
    assert backends_for(BatchOptions(), tiny_exported_model) == ("onnx-int8", "onnx-int8")
    assert backends_for(BatchOptions(backend="torch"), tiny_exported_model) == ("torch", "torch")
    # with GPUs the workers resolve auto on their own card; the driver loads on the CPU
    assert backends_for(BatchOptions(gpus_per_worker=0.5), tiny_exported_model) == ("onnx-int8", "auto")
    assert backends_for(BatchOptions(backend="cuda-fp16", gpus_per_worker=1), tiny_exported_model) == \
        ("onnx-int8", "cuda-fp16")
    with pytest.raises(InputError, match="runs on a GPU: give --gpus-per-worker"):
        backends_for(BatchOptions(backend="cuda-bf16"), tiny_exported_model)
    with pytest.raises(InputError, match="with --backend onnx-int8, which runs on the CPU"):
        backends_for(BatchOptions(backend="onnx-int8", gpus_per_worker=1), tiny_exported_model)


def test_a_gpu_worker_without_a_usable_gpu_says_so_when_run(tiny_model, tmp_path):
    """Raised in the actor's constructor, Ray would only report a dead actor."""
    from conflictclf.model.engines.ray import _UnitWorker

    threads = torch.get_num_threads()  # the worker sets its own; this process's must come back
    for backend in ("auto", "cuda-fp16"):  # this machine has no GPU torch can use
        worker = _UnitWorker(str(tiny_model), asdict(BatchOptions(backend=backend, gpus_per_worker=1)), 1,
                             str(tmp_path), "jsonl")
        with pytest.raises(ModelError, match="torch sees no CUDA GPU"):
            worker.run({"k": 0})
    torch.set_num_threads(threads)


def test_a_unit_records_the_backend_that_ran_it(tiny_model, tmp_path):
    from conflictclf.data.ranges import plan_units
    from conflictclf.model.engines.units import run_unit

    src = make_jsonl(tmp_path / "in.jsonl", n=10, bad=False)
    clf = EventClassifier.from_pretrained(tiny_model, backend="torch")
    counts = run_unit(clf, plan_units([src], 1 << 20)[0], BatchOptions(backend="torch"), tmp_path, "jsonl")
    assert counts["backend"] == "torch" and counts["read"] == 10
    assert json.loads((tmp_path / "done-000000.json").read_text())["backend"] == "torch"  # resumes keep it


def test_the_gpu_benchmark_says_no_gpu_and_exits_2_on_a_cpu_machine():
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "gpu.py")], capture_output=True, text=True,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "no CUDA GPU is visible to torch" in proc.stderr and "Traceback" not in proc.stderr


def test_bf16_check_works_on_torch_without_the_emulation_argument(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)  # torch 2.2-2.3's signature
    assert backends.bf16_on_gpu() is False
