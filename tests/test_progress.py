"""Training progress: a plain line every minute or so when the output is not a terminal."""

from types import SimpleNamespace

from conflictclf.train.progress import RichProgressCallback


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_once_a_minute_with_step_and_time_left():
    clock, lines = FakeClock(), []
    cb = RichProgressCallback(lines.append, ["attack"], live=False, interval=60, clock=clock)
    state = SimpleNamespace(max_steps=400, global_step=0, epoch=0.0)
    cb.on_train_begin(None, state, None)
    for step in range(1, 101):  # 100 steps of 2 s: 200 s in all
        clock.now += 2
        state.global_step = step
        cb.on_step_end(None, state, None)
    assert lines == ["training: step 30/400 (8%), 1m00s elapsed, about 12m20s left",
                     "training: step 60/400 (15%), 2m00s elapsed, about 11m20s left",
                     "training: step 90/400 (22%), 3m00s elapsed, about 10m20s left"]
    clock.now += 61  # a long dev evaluation after the epoch keeps the log moving too
    cb.on_prediction_step(None, state, None)
    assert lines[-1] == "evaluating on dev: step 100/400 (25%), 4m21s elapsed, about 13m03s left"
    cb.on_train_end(None, state, None)
    clock.now += 600
    cb.on_step_end(None, state, None)
    assert len(lines) == 4  # nothing after training ends


def test_no_plain_lines_when_disabled_or_on_a_terminal(monkeypatch):
    clock, lines = FakeClock(), []
    quiet = RichProgressCallback(lines.append, ["attack"], enabled=False, live=False, clock=clock)
    state = SimpleNamespace(max_steps=10, global_step=0, epoch=0.0)
    quiet.on_train_begin(None, state, None)
    clock.now += 120
    state.global_step = 5
    quiet.on_step_end(None, state, None)
    quiet.on_evaluate(None, SimpleNamespace(epoch=1.0), None, metrics={"eval_macro_f1": 0.5})
    assert lines == []
    live = RichProgressCallback(lines.append, ["attack"], live=True, clock=clock)
    live.on_train_begin(None, state, None)
    try:
        clock.now += 120
        live.on_step_end(None, state, None)
        assert lines == [] and live.progress is not None  # the bar shows progress instead
    finally:
        live.on_train_end(None, state, None)


def test_output_that_is_not_a_terminal_gets_plain_lines():
    """Under pytest stderr is captured, as in a piped log: the default picks plain lines."""
    clock, lines = FakeClock(), []
    cb = RichProgressCallback(lines.append, ["attack"], clock=clock)
    state = SimpleNamespace(max_steps=10, global_step=0, epoch=0.0)
    cb.on_train_begin(None, state, None)
    assert cb.progress is None
    clock.now += 60
    state.global_step = 4
    cb.on_step_end(None, state, None)
    assert lines == ["training: step 4/10 (40%), 1m00s elapsed, about 1m30s left"]


def test_epoch_lines_go_to_the_log_without_a_bar():
    lines = []
    cb = RichProgressCallback(lines.append, ["attack", "threat"], live=False, clock=FakeClock())
    cb.on_train_begin(None, SimpleNamespace(max_steps=10, global_step=0), None)
    cb.on_log(None, None, None, logs={"loss": 0.25})
    cb.on_evaluate(None, SimpleNamespace(epoch=1.0), None,
                   metrics={"eval_macro_f1": 0.5, "eval_micro_f1": 0.6, "eval_f1_attack": 0.7, "eval_f1_threat": 0.3})
    assert lines == ["epoch  1.0  loss 0.2500  dev macro-F1 0.5000  micro-F1 0.6000  |  attack 0.700  threat 0.300"]
