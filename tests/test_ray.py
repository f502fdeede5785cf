"""The Ray engine gives the local engine's rows, labels, scores and rejects."""

import json

import pytest

from conflictclf.model.batch import BatchOptions, run_batch
from tests.test_batch import make_jsonl, read_jsonl

ray = pytest.importorskip("ray", reason="the ray extra is installed in CI (pip install 'conflictclf[ray]')")
pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def read_folder(path):
    return [row for f in sorted(path.glob("*.json*")) for row in read_jsonl(f)]


@pytest.mark.parametrize("segment", [False, True])
def test_ray_output_equals_local(tiny_model, tmp_path, local_ray, segment):
    from conflictclf.model.ray_engine import run_batch_ray

    src = make_jsonl(tmp_path / "in.jsonl", n=120)
    opts = BatchOptions(backend="torch", segment=segment, chunk_size=50, block_bytes=1000)  # ~14 lines a unit
    local = run_batch(src, tmp_path / "local.jsonl", tiny_model, opts)
    remote = run_batch_ray(src, tmp_path / "ray.jsonl", tiny_model, opts, workers=2)
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
    simplify = (lambda rs: sorted((r["line"], r["reason"]) for r in rs))
    assert simplify(rejects_ray) == simplify(rejects_local) and len(rejects_local) == 4
    assert manifest["engine"].startswith("ray") and manifest["counts"]["read"] == 120
