"""Events and incident records kept on disk while incidents are built, so memory stays flat
however many articles come in.

Each kind is a JSONL file in a temporary folder with a small in-memory index (the sort key
and the line's byte offset): events are read back in order of their day, records in order
of their date, one at a time.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Spool:
    """Append JSON objects with a sort key; read them back sorted."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / f"{name}.jsonl"
        self._fh = self.path.open("w+b")
        self._index: list[tuple[Any, int]] = []

    def add(self, key: Any, obj: dict[str, Any]) -> None:
        self._index.append((key, self._fh.tell()))
        self._fh.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")

    def __len__(self) -> int:
        return len(self._index)

    def sorted(self) -> Iterator[dict[str, Any]]:
        self._fh.flush()
        with self.path.open("rb") as fh:
            for _, offset in sorted(self._index, key=lambda x: x[0]):
                fh.seek(offset)
                yield json.loads(fh.readline())

    def close(self) -> None:
        self._fh.close()


class Workspace:
    """A temporary folder for spools, removed by `close()`."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="conflictclf-incidents-"))

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
