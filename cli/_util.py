"""What every command shares: consoles, and turning domain errors into one-line messages."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

from conflictclf.data.errors import ConflictClfError

# emoji=False: "file.jsonl:100:" must not print as a 💯 emoji, nor ":fire:" in an article.
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)

F = TypeVar("F", bound=Callable)
# Click's exceptions as this typer raises them (newer typers vendor click, older ones use it).
_cx = sys.modules[typer.BadParameter.__module__]
_NO_ARGS_IS_HELP = getattr(_cx, "NoArgsIsHelpError", ())
# Set to see the traceback of an unexpected error instead of its one-line message.
DEBUG_ENV = "CONFLICTCLF_DEBUG"


def fail(message: str, code: int = 1) -> typer.Exit:
    # markup=False: messages quote user input and file paths, which may contain [brackets].
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Domain errors and interrupts become `error: ...` on stderr and a non-zero exit.

    Anything else is a bug, but a user still gets one line (and the way to the traceback),
    not forty; the hostile-input test asserts that no input reaches that line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, _cx.ClickException):
            raise  # typer's own exits and usage errors (printed by OneLineErrors)
        except ConflictClfError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except (OSError, MemoryError) as exc:
            raise fail(f"{exc.__class__.__name__}: {exc}") from None
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            raise fail(f"unexpected {exc.__class__.__name__}: {exc} (a bug: please report it; "
                       f"{DEBUG_ENV}=1 shows the traceback)", 70) from None

    return wrapper  # type: ignore[return-value]


class OneLineErrors(TyperGroup):
    """The root command: a usage error (bad option value, missing argument) is one
    `error: ...` line like every other error, not a boxed panel."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as exc:
            exc.show()  # `conflictclf data` alone: the help, as before
            sys.exit(exc.exit_code)
        except _cx.UsageError as exc:
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            err.print(f"error: {exc.format_message()}{hint}", markup=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except _cx.ClickException as exc:
            err.print(f"error: {exc.format_message()}", markup=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            err.print("error: aborted", markup=False)
            sys.exit(1)
        # without standalone mode, click returns an Exit's code instead of exiting with it
        sys.exit(rv if isinstance(rv, int) else 0)


# One description of --backend for every command that scores text.
BACKEND_HELP = ("auto (a visible GPU; else the model's int8 copy where `train` found its decisions as good as "
                "fp32's, else the fastest export that passed its check), torch (fp32, CPU), bf16 (CPU), "
                "cuda-fp32, cuda-bf16, cuda-fp16 (GPU), onnx (fp32), onnx-int8, or onnx-int8-checked (int8, "
                "rechecked in fp32 near the thresholds: fp32's decisions).")
