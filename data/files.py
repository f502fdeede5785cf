"""Writing a file so that a reader, or a crash, never leaves half of it under its name."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def atomic_write_text(path: Path, text: str) -> None:
    """Write next to `path` under a temporary name, then rename: readers see old or new, never part."""
    with atomic_writer(path) as f:
        f.write(text)


@contextmanager
def atomic_writer(path: Path) -> Iterator[TextIO]:
    """A text file to stream into; it appears under `path` only when the block ends without
    an error (until then, and after a crash, readers see the old file or none)."""
    _make_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        # mkstemp makes the file private (0600); a result file gets the usual permissions
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _make_parent(path: Path) -> None:
    """The folder `path` goes in, made if missing. A file where a folder should be gets an
    error that names it (mkdir alone says only "File exists")."""
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder", str(path))
            break
    path.parent.mkdir(parents=True, exist_ok=True)


def ensure_output_folder(path: Path) -> None:
    """Make the folder an output goes in, or say in one line why it cannot be made."""
    from conflictclf.data.errors import InputError

    try:
        _make_parent(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
