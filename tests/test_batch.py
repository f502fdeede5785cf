import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.model.engines import BatchOptions, run_batch
from tests.conftest import make_jsonl, read_jsonl

runner = CliRunner()


def test_every_row_accounted_for(tiny_model, tmp_path):
    src = make_jsonl(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    s = run_batch(src, out, tiny_model, BatchOptions(chunk_size=16, backend="torch"))
    assert (s.read, s.classified, s.rejected) == (40, 36, 4)
    rows, rejects = read_jsonl(out), read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert {r["id"] for r in rows} | {r["line"] - 1 for r in rejects} == set(range(40))
    reasons = {r["line"]: r["reason"] for r in rejects}
    assert sorted(reasons) == [4, 6, 8, 10] and reasons[4].startswith("invalid JSON")
    assert (reasons[6], reasons[8], reasons[10]) == (
        "empty text in field 'text'", "missing text field 'text'", "text field 'text' is not a string (int)")
    assert rows[0]["extra"] == {"k": 0} and set(rows[0]["scores"]) == {"attack", "claim", "retaliation", "threat"}
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["counts"] == {"read": 40, "classified": 36, "rejected": 4, "output_rows": 36,
                                  "truncated": 0, "split": 0, "markup": 0}
    assert len(manifest["model"]["sha256"]) == 64 and manifest["model"]["thresholds"]
    assert not list(tmp_path.glob(".out.jsonl*"))  # no work files left behind


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_csv_and_parquet_round_trip(tiny_model, tmp_path, ext):
    src = tmp_path / f"in.{ext}"
    table = pa.table({"id": list(range(12)), "body": [f"army shelled the village {i}" for i in range(12)]})
    if ext == "csv":
        src.write_text("id,body\n" + "".join(f"{i},army shelled the village {i}\n" for i in range(12)))
    else:
        pq.write_table(table, src)
    out = tmp_path / f"out.{ext}"
    s = run_batch(src, out, tiny_model, BatchOptions(text_field="body", chunk_size=5, backend="torch"))
    assert (s.read, s.classified, s.rejected) == (12, 12, 0)
    if ext == "parquet":
        got = pq.read_table(out).to_pylist()
        assert [r["id"] for r in got] == list(range(12)) and set(got[0]["scores"]) >= {"attack"}
    else:
        lines = out.read_text().splitlines()
        assert lines[0].startswith("id,body,labels,score_") and len(lines) == 13


def test_segment_mode_one_row_per_sentence(tiny_model, tmp_path):
    src = tmp_path / "arts.jsonl"
    src.write_text(json.dumps({"id": "a1", "text": "Rockets hit the base. Talks resumed.\nShare on Facebook"}) + "\n"
                   + json.dumps({"id": "a2", "text": "Source \u00bb jpost"}) + "\n")
    out = tmp_path / "out.jsonl"
    s = run_batch(src, out, tiny_model, BatchOptions(segment=True, backend="torch"))
    rows = read_jsonl(out)
    assert [(r["id"], r["sentence_index"], r["text"]) for r in rows] == [
        ("a1", 0, "Rockets hit the base."), ("a1", 1, "Talks resumed.")]
    assert (rows[1]["start"], rows[1]["end"]) == (22, 36)
    assert (s.read, s.classified, s.rejected, s.output_rows) == (2, 1, 1, 2)


@pytest.mark.parametrize("setup, message", [
    (lambda d: (d / "in.txt").write_text("x"), "unknown extension"),
    (lambda d: (d / "in.jsonl").write_text(json.dumps({"body": "x"}) + "\n"), "no record has field 'text'"),
    (lambda d: (d / "in.jsonl").write_bytes(b"\x00\x01\x02\x03"), "binary file"),
    (lambda d: (d / "in.jsonl").write_text(""), "holds no records"),
    (lambda d: (d / "in.csv").write_text("id,body\n1,x\n"), "no field 'text'"),
])
def test_bad_inputs_fail_cleanly_without_output(tiny_model, tmp_path, setup, message):
    setup(tmp_path)
    src = next(tmp_path.iterdir())
    out = tmp_path / "out" / "o.jsonl"
    out.parent.mkdir()
    result = runner.invoke(app, ["batch", str(src), str(out), "--model", str(tiny_model), "--quiet"])
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.strip().count("\n") == 0
    assert list(out.parent.iterdir()) == []


def test_killed_run_resumes_to_the_same_output(tiny_model, tmp_path):
    src = make_jsonl(tmp_path / "in.jsonl", n=3000)
    ref = tmp_path / "ref.jsonl"
    run_batch(src, ref, tiny_model, BatchOptions(chunk_size=100, backend="torch"))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "conflictclf.cli.main", "batch", str(src), str(out), "--model", str(tiny_model),
           "--chunk-size", "100", "--backend", "torch", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = tmp_path / ".out.jsonl.parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("part-*.jsonl"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(parts.glob("part-*.jsonl")))
    assert 3 <= done < 30, "the run must be killed part-way"
    assert not out.exists()
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1 and "--resume" in result.stderr  # refuses to silently start over
    result = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == ref.read_bytes()
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_bytes() == (tmp_path / "ref.jsonl.rejects.jsonl").read_bytes()
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["counts"]["read"] == 3000


def test_folder_input(tiny_model, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    make_jsonl(d / "a.jsonl", n=5, bad=False)
    make_jsonl(d / "b.jsonl", n=7, bad=False)
    s = run_batch(d, tmp_path / "o.jsonl", tiny_model, BatchOptions(backend="torch"))
    assert (s.read, s.classified) == (12, 12)


def test_weights_hash_is_cached_until_the_weights_change(tiny_model, tmp_path):
    import hashlib
    import shutil

    from conflictclf.model.engines.common import HASH_CACHE_FILE, weights_hash

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    weights = d / "model.safetensors"
    first = weights_hash(d)
    assert first == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert json.loads((d / HASH_CACHE_FILE).read_text())["sha256"] == first
    with weights.open("ab") as fh:  # a changed file must not be answered from the cache
        fh.write(b"\0")
    assert weights_hash(d) == hashlib.sha256(weights.read_bytes()).hexdigest() != first


def test_thread_count_does_not_change_the_output(tiny_model, tmp_path):
    import shutil

    from conflictclf.model.classifier import DEFAULT_BATCH_SIZE
    from conflictclf.model.export import export_onnx

    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    export_onnx(model, int8=True)
    src = make_jsonl(tmp_path / "in.jsonl", n=70)
    # 66 sentences at the default batch size: batches are cut by the input alone, so 1 and 3
    # threads score the same batches (int8 scores depend on which sentences share one).
    assert DEFAULT_BATCH_SIZE == 32
    outputs = []
    for threads in ("1", "3"):
        out = tmp_path / f"out{threads}.jsonl"
        result = runner.invoke(app, ["batch", str(src), str(out), "--model", str(model), "--quiet",
                                     "--threads", threads, "--backend", "onnx-int8"])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_text())
        assert json.loads((tmp_path / f"out{threads}.jsonl.manifest.json").read_text())["model"]["backend"] == "onnx-int8"
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 66


def test_context_field_is_gone(tiny_model, tmp_path):
    """No shipped model reads a context sentence, so batch offers no option that would do nothing."""
    src = make_jsonl(tmp_path / "in.jsonl", n=3, bad=False)
    result = runner.invoke(app, ["batch", str(src), str(tmp_path / "o.jsonl"), "--model", str(tiny_model),
                                 "--context-field", "prev", "--quiet"])
    assert result.exit_code != 0 and "--context-field" in result.output
    assert not (tmp_path / "o.jsonl").exists()
    with pytest.raises(TypeError):
        BatchOptions(context_field="prev")


@pytest.mark.parametrize("args, message", [
    (["--block-size", "inf"], "--block-size 'inf'"),
    (["--block-size", "nan"], "--block-size 'nan'"),
    (["--block-size", "-4K"], "--block-size '-4K'"),
    (["--engine", "spark"], "--engine 'spark'"),
    (["--long", "fold"], "--long 'fold'"),
    (["--backend", "gpu"], "unknown backend 'gpu'"),
])
def test_bad_option_values_give_one_error_line(tiny_model, tmp_path, args, message):
    src = make_jsonl(tmp_path / "in.jsonl", n=3, bad=False)
    out = tmp_path / "out" / "o.jsonl"
    out.parent.mkdir()
    result = runner.invoke(app, ["batch", str(src), str(out), "--model", str(tiny_model), "--quiet", *args])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.output
    assert list(out.parent.iterdir()) == []


def interrupted_run(src, out, model, opts, monkeypatch):
    """A run whose every chunk finished but which died before assembly, leaving its work folder."""
    import conflictclf.model.engines.local as local

    def die(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(local, "finish", die)
        with pytest.raises(KeyboardInterrupt):
            run_batch(src, out, model, opts)
    assert (out.parent / f".{out.name}.parts" / "plan.json").exists() and not out.exists()


def test_resume_refuses_another_batch_size_or_retrained_weights(tiny_model, tmp_path, monkeypatch):
    import shutil

    from safetensors.torch import load_file, save_file

    from conflictclf.data.errors import InputError

    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    src = make_jsonl(tmp_path / "in.jsonl", n=30)
    out = tmp_path / "out.jsonl"
    opts = dict(backend="torch", chunk_size=10)
    interrupted_run(src, out, model, BatchOptions(**opts), monkeypatch)
    with pytest.raises(InputError, match="cannot resume"):  # int8 scores depend on batch composition
        run_batch(src, out, model, BatchOptions(**opts, batch_size=8, resume=True))
    weights = load_file(model / "model.safetensors")  # the same path, retrained: another model
    name = next(iter(weights))
    save_file({**weights, name: weights[name] + 0.5}, model / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(InputError, match="cannot resume"):
        run_batch(src, out, model, BatchOptions(**opts, resume=True))
    shutil.copy2(tiny_model / "model.safetensors", model / "model.safetensors")  # the original weights again
    s = run_batch(src, out, model, BatchOptions(**opts, resume=True))
    assert (s.resumed_chunks, s.read, s.classified) == (3, 30, 26) and out.exists()
