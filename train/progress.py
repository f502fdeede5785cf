"""Trainer callback: a rich progress bar over all steps and one metric line per epoch."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from transformers import TrainerCallback


class RichProgressCallback(TrainerCallback):
    def __init__(self, log: Callable[[str], None], labels: Sequence[str], enabled: bool = True) -> None:
        self.log = log
        self.labels = list(labels)
        self.enabled = enabled
        self.progress = None
        self.task = None
        self.last_loss: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.last_loss = logs["loss"]

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics:
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
