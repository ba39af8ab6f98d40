"""The `checkpoint` plugin: the checkpoint policy, when to save and how many to keep.

It saves at every pass end, every `every_n_iters` iterations (after the sync, so the three
networks agree) and when a signal stops the run, and keeps the newest `keep_last` checkpoints
(never the one the run resumed from). What a checkpoint holds and how it is written is the run's
business (`paddle_gan.checkpoint`, reached through `state.checkpointer`); as a plugin that saves
the state it runs before the others, so a pass's checkpoint exists before its picture or metrics.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..config import MAX_COUNT
from ..state import TrainState
from .base import Plugin

log = logging.getLogger(__name__)


class CheckpointPlugin(Plugin):
    name = "checkpoint"
    saves_state = True
    writes_files = False  # every rank takes part in a save (rank 0 alone writes)

    @dataclass
    class Options:
        # also save every N iterations; 0: only at pass ends (and stops)
        every_n_iters: int = field(default=0, metadata={"min": 0, "max": MAX_COUNT})
        # the newest checkpoints kept; older ones are deleted
        keep_last: int = field(default=3, metadata={"min": 1, "max": MAX_COUNT})

    def __init__(self, options: Options):
        self.every, self.keep_last = options.every_n_iters, options.keep_last

    def _save(self, state: TrainState, reason: str, pass_end: bool = False) -> None:
        assert state.checkpointer is not None  # the run sets it before training starts
        saved = state.checkpointer.save(state, reason, pass_end)
        if saved is not None and state.is_writer:
            state.checkpointer.rotate(self.keep_last)
            log.info(f"checkpoint ({reason}): {saved.path}")

    def on_sync(self, state: TrainState) -> None:
        # The last iteration of a pass is saved by on_pass_end right after, with the counters of
        # the next pass's start.
        at_pass_end = state.iteration >= state.iters_per_pass
        if self.every and state.global_step % self.every == 0 and not at_pass_end:
            self._save(state, f"every {self.every} iterations")

    def on_pass_end(self, state: TrainState) -> None:
        self._save(state, f"end of pass {state.pass_id}", pass_end=True)

    def on_train_end(self, state: TrainState) -> None:
        last = state.last_checkpoint
        if state.stop_reason and not (last and last.global_step == state.global_step):
            self._save(state, state.stop_reason)
