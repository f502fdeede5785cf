"""Trainer callback: progress over all steps and one metric line per epoch.

On a terminal, a rich progress bar. Piped to a log (CI, nohup), a bar draws nothing, and a
first epoch on a CPU can take ten minutes; there, a plain line every PLAIN_INTERVAL_S says
how far training (or the dev evaluation after each epoch) has got.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from transformers import TrainerCallback

# Often enough that a log never looks stuck, rarely enough that a long run stays readable.
PLAIN_INTERVAL_S = 60.0


class RichProgressCallback(TrainerCallback):
    def __init__(self, log: Callable[[str], None], labels: Sequence[str], enabled: bool = True,
                 live: bool | None = None, interval: float = PLAIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`live`: draw a bar (default: when stderr is a terminal); otherwise log a plain
        progress line every `interval` seconds of `clock`."""
        self.log = log
        self.labels = list(labels)
        self.enabled = enabled
        self.live = live
        self.interval = interval
        self.clock = clock
        self.progress = None
        self.task = None
        self.last_loss: float | None = None
        self.started: float | None = None  # plain mode only
        self.next_line = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        if not self.enabled:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if not (console.is_terminal if self.live is None else self.live):
            self.started = self.clock()
            self.next_line = self.started + self.interval
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), transient=True, console=console,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)
        self._plain_line(state, "training")

    def on_prediction_step(self, args, state, control, **kwargs):
        self._plain_line(state, "evaluating on dev")

    def _plain_line(self, state, doing: str) -> None:
        if self.started is None or self.clock() < self.next_line:
            return
        now = self.clock()
        elapsed, step, total = now - self.started, state.global_step, state.max_steps
        eta = f", about {_duration(elapsed / step * (total - step))} left" if step and total else ""
        share = f" ({step / total:.0%})" if total else ""
        self.log(f"{doing}: step {step}/{total}{share}, {_duration(elapsed)} elapsed{eta}")
        self.next_line = now + self.interval

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.last_loss = logs["loss"]

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not (metrics and self.enabled):  # `train --quiet`: no per-epoch lines either
            return
        per_label = "  ".join(f"{lab} {metrics.get(f'eval_f1_{lab}', 0):.3f}" for lab in self.labels)
        loss = f"loss {self.last_loss:.4f}  " if self.last_loss is not None else ""
        line = (f"epoch {state.epoch:>4.1f}  {loss}dev macro-F1 {metrics.get('eval_macro_f1', 0):.4f}  "
                f"micro-F1 {metrics.get('eval_micro_f1', 0):.4f}  |  {per_label}")
        if self.progress is not None:
            self.progress.console.print(line, highlight=False)
        else:
            self.log(line)

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        self.started = None


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
