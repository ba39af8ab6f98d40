"""The plugin contract: a base class whose hooks are no-ops, so a plugin overrides what it needs.

The trainer calls each hook on every plugin in the order the settings list them, except that
plugins which save the train state (`saves_state`) come first: a pass's checkpoint is written
before anything optional of that pass (a picture, a metric) is made. Each hook receives the
`TrainState` and nothing else; a plugin keeps whatever must survive a resume in `state_dict()`.
What plugins publish for others (`state.picture`, `state.metrics`, `state.history`, and the
run's `state.last_checkpoint`) is made at a pass end and read at `on_pass_published`, which
comes after every plugin's `on_pass_end`, so no plugin depends on the order of the others.
A plugin may ask the run to stop by setting `state.stop_reason` (checked after each iteration
and each pass end).
"""
from __future__ import annotations

from typing import Any, Dict

from ..state import TrainState


class Plugin:
    """Base class: every hook is a no-op."""

    name = "plugin"
    writes_files = True  # False: it runs on every rank (it only logs or reads)
    saves_state = False  # True: it runs before the other plugins (see the module docstring)

    def on_train_start(self, state: TrainState) -> None:
        """Called once before the first iteration (after a resume, with restored counters)."""

    def on_pass_start(self, state: TrainState) -> None:
        """Called at the start of each pass."""

    def on_step_end(self, state: TrainState) -> None:
        """Called after each iteration's training step, before parameters are synced."""

    def on_sync(self, state: TrainState) -> None:
        """Called after the trained network's parameters were copied to the others."""

    def on_pass_end(self, state: TrainState) -> None:
        """Called after the last iteration of a pass."""

    def on_pass_published(self, state: TrainState) -> None:
        """Called after every plugin's on_pass_end: what they published is complete."""

    def on_train_end(self, state: TrainState) -> None:
        """Called once when training stops, normally or by a signal (not after an error)."""

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        """Called when training stops on an error: divergence, bad input, a second Ctrl-C."""

    def close(self) -> None:
        """Called last, always: release files and writers."""

    def state_dict(self) -> Dict[str, Any]:
        """JSON-serialisable state that must survive a resume."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore what `state_dict()` returned."""
