"""What every command shares: consoles, and turning domain errors into one-line messages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console

from conflictclf.model.errors import ConflictClfError

# emoji=False: "file.jsonl:100:" must not print as a 💯 emoji, nor ":fire:" in an article.
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)

F = TypeVar("F", bound=Callable)


def fail(message: str, code: int = 1) -> typer.Exit:
    # markup=False: messages quote user input and file paths, which may contain [brackets].
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Domain errors and interrupts become `error: ...` on stderr and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConflictClfError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except (OSError, MemoryError) as exc:
            raise fail(f"{exc.__class__.__name__}: {exc}") from None

    return wrapper  # type: ignore[return-value]
