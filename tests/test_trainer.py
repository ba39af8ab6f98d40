"""The loop: hook order, counters, the stop request, and that every plugin hears of an error and
is closed whatever happened; `run_iteration` reports each of its parts to `lap`."""
import pytest

from paddle_gan.errors import Diverged
from paddle_gan.plugins.base import Plugin
from paddle_gan.roles import DIS, GEN
from paddle_gan.trainer import run_iteration, train
from tests.helpers import tiny_state


class Recorder(Plugin):
    """Records (hook, pass, iteration) for every hook, and close()."""

    def __init__(self):
        self.calls = []
        self._state = None

    def __getattribute__(self, name):
        if name.startswith("on_"):
            def record(state, *error):
                self.calls.append((name, state.pass_id, state.iteration, *map(type, error)))
                object.__setattr__(self, "_state", state)
            return record
        if name == "close":
            return lambda: self.calls.append(("close",))
        return super().__getattribute__(name)


def test_hook_order(tmp_path):
    recorder = Recorder()
    state = tiny_state(tmp_path, passes=2, iters=2)
    train(state, [recorder])
    step = lambda p, i: [("on_step_end", p, i), ("on_sync", p, i)]  # noqa: E731
    assert recorder.calls == (
        [("on_train_start", 0, 0), ("on_pass_start", 0, 0)] + step(0, 1) + step(0, 2)
        + [("on_pass_end", 0, 2), ("on_pass_published", 0, 2), ("on_pass_start", 1, 0)]
        + step(1, 1) + step(1, 2)
        + [("on_pass_end", 1, 2), ("on_pass_published", 1, 2), ("on_train_end", 2, 0),
           ("close",)]
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
    assert recorder.calls[-2:] == [("on_train_end", 1, 1), ("close",)]
    assert ("on_pass_end", 1, 1) not in recorder.calls


def test_a_stop_asked_at_a_pass_end_ends_before_the_next_pass(tmp_path):
    class StopAfterPass0(Plugin):
        def on_pass_published(self, state):
            state.stop_reason = "enough"

    recorder = Recorder()
    state = tiny_state(tmp_path, passes=3, iters=2)
    train(state, [StopAfterPass0(), recorder])
    assert state.global_step == 2 and (state.pass_id, state.iteration) == (1, 0)
    assert recorder.calls[-3:] == [("on_pass_published", 0, 2), ("on_train_end", 1, 0),
                                   ("close",)]


@pytest.mark.parametrize("error", [Diverged("d", float("nan")), OSError("disk full"),
                                   KeyboardInterrupt()])
def test_an_error_reaches_every_plugin_then_all_are_closed(tmp_path, error):
    class FailAt(Plugin):
        def on_step_end(self, state):
            if state.global_step == 3:
                raise error

    class BrokenCloser(Plugin):
        def close(self):
            raise RuntimeError("cannot close")

    first, last = Recorder(), Recorder()
    state = tiny_state(tmp_path, passes=2, iters=5)
    with pytest.raises(type(error)):
        train(state, [first, FailAt(), BrokenCloser(), last])
    for recorder in (first, last):
        assert recorder.calls[-2:] == [("on_exception", 0, 3, type(error)), ("close",)]
        assert ("on_train_end", 0, 3) not in recorder.calls


def test_run_iteration_laps_every_part_in_order(tmp_path):
    state = tiny_state(tmp_path, passes=1, iters=12)
    state.start_pass()
    seen = []
    for _ in range(12):
        laps = []
        run_iteration(state, [], laps.append)
        decision = state.result.decision
        assert laps == ["data", "forwards", "decision", decision, "decision", "plugins", "sync",
                        "plugins"]
        seen.append(decision)
    assert set(seen) == {DIS, GEN} and state.global_step == 12
