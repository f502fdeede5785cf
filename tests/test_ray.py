"""The Ray engine gives the local engine's rows, labels, scores and rejects, exactly once, through faults."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import ray  # CI installs the ray extra: a missing or broken Ray must fail these tests, not skip them

from conflictclf.model.engines import BatchOptions, run_batch
from conflictclf.data.errors import InputError
from tests.conftest import check_drift_output, check_mixed, make_drifting, make_jsonl, make_mixed, read_jsonl, read_output

pytestmark = pytest.mark.ray

# ~3000 rows of ~70 bytes in ~60 units: long enough to interrupt, short enough for CI
FAULT_ROWS, FAULT_OPTS = 3000, dict(backend="torch", chunk_size=20, block_bytes=3500)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def read_folder(path):
    return [row for f in sorted(path.glob("*.json*")) for row in read_jsonl(f)]


def folder_bytes(path):
    return {f.name: f.read_bytes() for f in sorted(path.iterdir())}


@pytest.mark.parametrize("segment", [False, True])
def test_ray_output_equals_local(tiny_model, tmp_path, local_ray, segment):
    from conflictclf.model.engines.ray import run_batch_ray

    src = make_jsonl(tmp_path / "in.jsonl", n=120)
    opts = BatchOptions(backend="torch", segment=segment, chunk_size=50, block_bytes=1000)  # ~14 lines a unit
    local = run_batch(src, tmp_path / "local.jsonl", tiny_model, opts)
    seen = []
    remote = run_batch_ray(src, tmp_path / "ray.jsonl", tiny_model, opts, workers=2,
                           on_progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 120) and seen[-1] == (120, 120) and len(seen) > 5  # progress as units finish
    manifest = json.loads((tmp_path / "ray.jsonl.manifest.json").read_text())
    assert manifest["ray"]["units"] > 5  # the file was streamed in byte ranges, bad lines in several of them
    assert (remote.read, remote.classified, remote.rejected, remote.output_rows) == \
        (local.read, local.classified, local.rejected, local.output_rows)
    want = read_jsonl(tmp_path / "local.jsonl")
    got = read_folder(tmp_path / "ray.jsonl")
    assert len(got) == len(want)
    key = (lambda r: (r["id"], r.get("sentence_index", 0)))
    got, want = sorted(got, key=key), sorted(want, key=key)
    for g, w in zip(got, want):
        assert g["labels"] == w["labels"] and g["text"] == w["text"] and g["extra"] == w["extra"]
        assert g["scores"] == pytest.approx(w["scores"], abs=1e-6)
    rejects_local = read_jsonl(tmp_path / "local.jsonl.rejects.jsonl")
    rejects_ray = read_folder(tmp_path / "ray.jsonl.rejects.jsonl")
    simplify = (lambda rs: sorted((r["file"], r["line"], r["reason"]) for r in rs))
    assert simplify(rejects_ray) == simplify(rejects_local) and len(rejects_local) == 4
    assert manifest["engine"].startswith("ray") and manifest["counts"]["read"] == 120


@pytest.fixture(scope="module")
def reference(tiny_model, tmp_path_factory, local_ray):
    """An uninterrupted Ray run that the interrupted ones must equal."""
    from conflictclf.model.engines.ray import run_batch_ray

    d = tmp_path_factory.mktemp("ref")
    src = make_jsonl(d / "in.jsonl", n=FAULT_ROWS)
    summary = run_batch_ray(src, d / "ref.jsonl", tiny_model, BatchOptions(**FAULT_OPTS), workers=2)
    assert summary.read == FAULT_ROWS
    return src, d / "ref.jsonl", summary


def check_same_as_reference(out, ref):
    assert folder_bytes(out) == folder_bytes(ref)
    assert folder_bytes(out.with_name(out.name + ".rejects.jsonl")) == \
        folder_bytes(ref.with_name(ref.name + ".rejects.jsonl"))
    rows, rejects = read_folder(out), read_folder(out.with_name(out.name + ".rejects.jsonl"))
    seen = sorted([r["id"] for r in rows] + [r["line"] - 1 for r in rejects])
    assert seen == list(range(FAULT_ROWS))  # every input row exactly once: no duplicate, no gap


def wait_for_done(parts, n, deadline_s=300):  # generous: actors import torch first
    deadline = time.time() + deadline_s
    while time.time() < deadline and len(list(parts.glob("done-*.json"))) < n:
        time.sleep(0.01)
    return len(list(parts.glob("done-*.json")))


def busy_workers():
    """Pids of Ray workers running a unit: Ray titles a worker process after the method it runs."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "cmdline").read_bytes().split(b"\0")[0] == b"ray::_UnitWorker.run":
                pids.append(int(d.name))
        except OSError:  # the process ended meanwhile
            pass
    return pids


def test_killed_worker_is_retried_and_rows_count_once(tiny_model, tmp_path, reference):
    from conflictclf.model.engines.ray import run_batch_ray

    src, ref, ref_summary = reference
    out = tmp_path / "out.jsonl"
    result = {}

    def run():
        try:
            result["s"] = run_batch_ray(src, out, tiny_model, BatchOptions(**FAULT_OPTS), workers=2)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            result["error"] = exc

    job = threading.Thread(target=run)
    job.start()
    wait_for_done(tmp_path / ".out.jsonl.parts", 3)
    # kill a worker inside a unit (Ray titles its process after the running method), with another queued on it
    busy, deadline = [], time.time() + 300
    while not busy and time.time() < deadline:
        busy = busy_workers()
    assert busy, "no Ray worker is running a unit"
    os.kill(busy[0], signal.SIGKILL)
    done_at_kill = len(list((tmp_path / ".out.jsonl.parts").glob("done-*.json")))
    job.join(timeout=300)
    units = json.loads((ref.with_name("ref.jsonl.manifest.json")).read_text())["ray"]["units"]
    assert 3 <= done_at_kill < units - 4, "the worker must be killed part-way"
    assert "error" not in result, f"the job did not survive the lost worker: {result.get('error')}"
    s = result["s"]
    assert (s.read, s.classified, s.rejected, s.output_rows) == \
        (ref_summary.read, ref_summary.classified, ref_summary.rejected, ref_summary.output_rows)
    check_same_as_reference(out, ref)


def test_killed_driver_resumes_to_the_same_output(tiny_model, tmp_path, reference):
    from conflictclf.model.engines.ray import run_batch_ray

    src, ref, _ = reference
    out = tmp_path / "out.jsonl"
    address = ray.get_runtime_context().gcs_address  # the driver joins the test's cluster, as on a real one
    cmd = [sys.executable, "-m", "conflictclf.cli.main", "batch", str(src), str(out), "--model", str(tiny_model),
           "--engine", "ray", "--ray-address", address, "--workers", "2", "--backend", "torch",
           "--chunk-size", str(FAULT_OPTS["chunk_size"]), "--block-size", str(FAULT_OPTS["block_bytes"]), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = tmp_path / ".out.jsonl.parts"
    done_at_kill = wait_for_done(parts, 3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    units = len(json.loads((parts / "plan.json").read_text())["units"])
    assert 3 <= done_at_kill < units - 4, "the driver must be killed part-way"
    assert not out.exists()
    with pytest.raises(InputError, match="--resume"):  # refuses to silently start over
        run_batch_ray(src, out, tiny_model, BatchOptions(**FAULT_OPTS), address=address, workers=2)
    result = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    check_same_as_reference(out, ref)
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["counts"]["read"] == FAULT_ROWS and manifest["ray"]["resumed_units"] >= 3
    assert not parts.exists()


def test_ray_parquet_schema_drift(tiny_model, tmp_path, local_ray):
    from conflictclf.model.engines.ray import run_batch_ray

    src = make_drifting(tmp_path / "in.jsonl")
    s = run_batch_ray(src, tmp_path / "out.parquet", tiny_model,
                      BatchOptions(backend="torch", chunk_size=4, block_bytes=400), workers=2)
    table = pq.read_table(tmp_path / "out.parquet")  # the folder reads as one dataset: one schema
    check_drift_output(table, read_folder(tmp_path / "out.parquet.rejects.jsonl"))
    assert (s.read, s.rejected, s.classified, s.output_rows) == (60, 12, 48, 48)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_ray_fields_that_vary_row_to_row_keep_their_columns(tiny_model, tmp_path, local_ray, fmt):
    from conflictclf.model.engines.ray import run_batch_ray

    recs = make_mixed(tmp_path / "in.jsonl")
    out = tmp_path / f"out.{fmt}"
    s = run_batch_ray(tmp_path / "in.jsonl", out, tiny_model, BatchOptions(backend="torch", chunk_size=4,
                                                                            block_bytes=400), workers=2)
    assert (s.read, s.classified, s.rejected, s.output_rows) == (30, 30, 0, 30)
    assert len(list(out.iterdir())) > 3  # several parts, whose first rows differ
    check_mixed(recs, read_output(out), fmt)
    if fmt == "csv":  # every part carries the one joined header, so the folder reads as one table
        assert len({f.read_text().splitlines()[0] for f in out.iterdir()}) == 1


def test_ray_workers_record_their_backend_and_gpu_workers_need_gpus(tiny_model, tmp_path, local_ray):
    from conflictclf.model.engines.ray import run_batch_ray

    src = make_jsonl(tmp_path / "in.jsonl", n=30)
    run_batch_ray(src, tmp_path / "out.jsonl", tiny_model, BatchOptions(backend="torch", block_bytes=600), workers=2)
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["model"]["backend"] == "torch" and manifest["options"]["gpus_per_worker"] == 0.0
    # this local Ray has no GPU: refused before any actor waits forever for one, and before any work is written
    with pytest.raises(InputError, match="the Ray cluster has 0 GPUs"):
        run_batch_ray(src, tmp_path / "gpu.jsonl", tiny_model, BatchOptions(gpus_per_worker=0.5), workers=1)
    assert sorted(p.name for p in tmp_path.iterdir() if "gpu" in p.name) == []


def test_incidents_on_ray_group_the_same_as_on_the_local_engine(role_model, tmp_path, local_ray):
    from typer.testing import CliRunner

    from conflictclf.cli.main import app
    from tests.conftest import ok, write_jsonl

    out, _ = role_model
    texts = ["militia drone strike killed wounded at the village 3. aid reached the port 4.",
             "army shelled the village 5. militia drone strike at the base 6.",
             "militia drone strike killed wounded at the village 3."]
    src = write_jsonl(tmp_path / "articles.jsonl", [{"id": f"a{k}", "date": "2025-03-02", "text": t}
                                                     for k, t in enumerate(texts)])
    got = {}
    for engine in ("local", "ray"):
        dst = tmp_path / f"{engine}.jsonl"
        ok(CliRunner().invoke(app, ["incidents", str(src), "-o", str(dst), "--model", str(out), "--engine", engine,
                                    "-q"]))
        got[engine] = [json.loads(x) for x in dst.read_text().splitlines()]
    assert (tmp_path / "ray.sentences.jsonl").is_dir()
    assert got["ray"] == got["local"] and got["local"]


from tests.test_roles import role_model  # noqa: E402,F401  (the tiny model with a role tagger)
