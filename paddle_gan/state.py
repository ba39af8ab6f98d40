"""The training state every plugin hook receives, the result of one step, what runs publish.

`TrainState` holds the run's parts (settings, networks, data, noise, scheduler, step), the
counters, which only the trainer moves on, and what the run and the plugins publish for others:
the newest checkpoint, the pass's sample picture, the newest metrics. A plugin reads what others
offer here, never their files or their settings.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Protocol, Tuple

import numpy as np

from .roles import DIS, GEN

if TYPE_CHECKING:
    from .config import Settings
    from .datasets.base import ArrayDataset, BatchSampler
    from .networks import Networks
    from .noise import NoiseStream
    from .scheduler import Scheduler
    from .step import GanStep


@dataclass(frozen=True)
class StepResult:
    """What one iteration did: the network it trained and the forward-only losses, each term's
    newest value (a G step planned ahead computes G's terms only; D's are the last D step's),
    and which of them this iteration computed."""

    decision: str = ""  # DIS or GEN ("" before the first step)
    losses: Dict[str, float] = field(default_factory=dict)  # d_real, d_fake, d, g
    computed: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Picture:
    """A pass's sample picture as the `samples` plugin wrote it."""

    pass_id: int
    png: bytes
    path: Path


@dataclass(frozen=True)
class Saved:
    """A checkpoint of this run: where, and the step whose state it holds."""

    path: Path
    global_step: int
    pass_end: bool


class Checkpoints(Protocol):
    """What saves the state (`paddle_gan.checkpoint.Checkpointer`, put on the state by the run;
    the checkpoint plugin decides when)."""

    def save(self, state: TrainState, reason: str, pass_end: bool = False) -> Optional[Saved]:
        """Write a checkpoint of `state`; None when it was not written."""

    def rotate(self, keep_last: int) -> List[Path]:
        """Delete all but this run's newest `keep_last` checkpoints; the deleted."""


@dataclass
class TrainState:
    """Everything a hook may read; the trainer is the only writer of the counters."""

    settings: Settings
    nets: Networks
    dataset: ArrayDataset
    sampler: BatchSampler
    noise: NoiseStream  # the noise of every iteration
    scheduler: Scheduler
    step: GanStep
    output_dir: Path
    fixed_noise: np.ndarray  # the noise behind every sample picture of the run
    iters_per_pass: int  # the setting, with "epoch" resolved to the data's whole batches
    fixed_labels: Optional[np.ndarray] = None  # a conditional run's: the picture's classes
    # the run's own Python random stream (a plugin may draw from it), saved and restored with
    # the run; the global `random` is left to libraries (botocore's retry jitter draws from it)
    py_random: random.Random = field(default_factory=random.Random)
    is_writer: bool = True  # rank 0: the only process that writes files
    pass_id: int = 0  # current pass, from 0
    iteration: int = 0  # iteration inside the pass, from 0
    global_step: int = 0  # iterations done since the run began (survives resume)
    result: StepResult = field(default_factory=StepResult)  # of the last step
    strike: int = 0  # consecutive picks of result.decision
    pass_counts: Dict[str, int] = field(default_factory=lambda: {DIS: 0, GEN: 0})
    stop_reason: Optional[str] = None  # set when a stop was requested (signal name)
    stop_agreed: bool = False  # data-parallel: some rank's stop request, as of this iteration
    # Set by the run: saves and restores the whole state (see paddle_gan.checkpoint).
    checkpointer: Optional[Checkpoints] = None
    # Published for others: the newest checkpoint (run), picture (samples), metrics (metrics),
    # train and test losses (history).
    last_checkpoint: Optional[Saved] = None
    picture: Optional[Picture] = None
    metrics: Optional[dict] = None
    history: Optional[dict] = None  # the `history` plugin's newest record

    @property
    def total_iterations(self) -> int:
        """The iterations of the whole run, as set now (a resume may add passes)."""
        return self.settings.num_passes * self.iters_per_pass

    def record(self, result: StepResult) -> None:
        """The counters after a step: the trainer's bookkeeping."""
        self.result = result
        self.strike = self.scheduler.strike
        self.pass_counts[result.decision] += 1
        self.iteration += 1
        self.global_step += 1

    def start_pass(self) -> None:
        """A new shuffle of the data and fresh per-pass counts."""
        self.sampler.start_pass()
        self.pass_counts = {DIS: 0, GEN: 0}
