"""The `console` plugin: progress, speed, ETA and losses every N iterations; counts per pass.

It writes through the `paddle_gan` logger, which the CLI sends to the terminal and train.log.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from ..config import MAX_COUNT
from ..roles import DIS, GEN
from ..state import TrainState
from .base import Plugin

log = logging.getLogger(__name__)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ConsolePlugin(Plugin):
    name = "console"
    writes_files = False  # every rank may print; only rank 0's logger writes train.log

    @dataclass
    class Options:
        # a progress line (speed, ETA, losses) every N iterations
        every_n_iters: int = field(default=100, metadata={"min": 1, "max": MAX_COUNT})

    def __init__(self, options: Options):
        self.every = options.every_n_iters

    def on_train_start(self, state: TrainState) -> None:
        s = state.settings
        self._total = s.num_passes * state.iters_per_pass
        self._mark = (time.perf_counter(), state.global_step)
        self._pass_start = self._mark[0]
        where = "resuming at" if state.global_step else "starting at"
        log.info(
            f"{s.data}: {s.num_passes} passes x {state.iters_per_pass} iterations, batch "
            f"{s.batch_size}, seed {s.seed}; {where} pass {state.pass_id} iteration "
            f"{state.iteration}; output in {state.output_dir}"
        )

    def on_pass_start(self, state: TrainState) -> None:
        self._pass_start = time.perf_counter()

    def on_step_end(self, state: TrainState) -> None:
        if state.global_step % self.every:
            return
        now = time.perf_counter()
        rate = (state.global_step - self._mark[1]) / max(now - self._mark[0], 1e-9)
        self._mark = (now, state.global_step)
        eta = (self._total - state.global_step) / max(rate, 1e-9)
        result = state.result
        losses = " ".join(f"{k} {v:.4f}" for k, v in result.losses.items())
        log.info(
            f"pass {state.pass_id} iter {state.iteration}/{state.iters_per_pass} | "
            f"{losses} | trained {result.decision} (strike {state.strike}) | "
            f"{rate:.1f} it/s | ETA {format_duration(eta)}"
        )

    def on_pass_end(self, state: TrainState) -> None:
        counts, took = state.pass_counts, time.perf_counter() - self._pass_start
        log.info(
            f"pass {state.pass_id} done in {format_duration(took)}: "
            f"{counts[DIS]} D steps, {counts[GEN]} G steps"
        )
