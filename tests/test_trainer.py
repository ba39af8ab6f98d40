"""The loop: hook order, counters, and the stop request."""
from pathlib import Path

from paddle_gan.config import resolve_settings
from paddle_gan.plugins.base import Plugin
from paddle_gan.run import build_state
from paddle_gan.trainer import train


class Recorder(Plugin):
    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda state: self.calls.append((name, state.pass_id, state.iteration))
        return super().__getattribute__(name)


def tiny_state(tmp_path: Path, passes=2, iters=3):
    settings = resolve_settings(None, ["data_size=256"], {
        "num_passes": passes, "iters_per_pass": iters, "batch_size": 16}, "uniform")
    return build_state(settings, tmp_path)


def test_hook_order(tmp_path):
    recorder = Recorder()
    state = tiny_state(tmp_path, passes=2, iters=2)
    train(state, [recorder])
    step = lambda p, i: [("on_step_end", p, i), ("on_sync", p, i)]  # noqa: E731
    assert recorder.calls == (
        [("on_train_start", 0, 0), ("on_pass_start", 0, 0)] + step(0, 1) + step(0, 2)
        + [("on_pass_end", 0, 2), ("on_pass_start", 1, 0)] + step(1, 1) + step(1, 2)
        + [("on_pass_end", 1, 2), ("on_train_end", 2, 0)]
    )
    assert state.global_step == 4
    assert sum(state.pass_counts.values()) == 2


def test_stop_request_ends_after_the_current_step(tmp_path):
    class StopAt(Plugin):
        def on_sync(self, state):
            if state.global_step == 4:
                state.stop_reason = "SIGTERM"

    recorder = Recorder()
    state = tiny_state(tmp_path, passes=3, iters=3)
    train(state, [StopAt(), recorder])
    assert state.global_step == 4 and (state.pass_id, state.iteration) == (1, 1)
    assert recorder.calls[-1] == ("on_train_end", 1, 1)
    assert ("on_pass_end", 1, 1) not in recorder.calls
