"""The plugin contract: the state object every hook receives and the no-op base class.

A plugin overrides only the hooks it needs; the trainer calls each hook on every plugin in the
order the YAML lists them, except that the checkpoint plugin is always called last. Plugins own
their own frequency and options, and keep whatever must survive a resume in `state_dict()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np


@dataclass
class TrainState:
    """Everything a hook may read; the trainer is the only writer of its counters."""

    settings: Any
    nets: Any  # paddle_gan.networks.Networks
    dataset: Any
    output_dir: Path
    fixed_noise: np.ndarray
    step: Any  # paddle_gan.step.GanStep: callable (real, noise) -> dict of floats
    scheduler: Any
    sampler: Any  # paddle_gan.datasets.base.BatchSampler
    noise: Any  # paddle_gan.noise.NoiseStream: the noise of every iteration
    is_writer: bool = True  # rank 0: the only process that writes files
    pass_id: int = 0  # current pass, from 0
    iteration: int = 0  # iteration inside the pass, from 0
    global_step: int = 0  # iterations done since the run began (survives resume)
    decision: str = ""  # "dis" or "gen": which network the last step trained
    strike: int = 0  # consecutive picks of `decision`
    losses: Dict[str, float] = field(default_factory=dict)  # d_real, d_fake, d, g
    pass_counts: Dict[str, int] = field(default_factory=lambda: {"dis": 0, "gen": 0})
    stop_reason: Optional[str] = None  # set when a stop was requested (signal name)


class Plugin:
    """Base class: every hook is a no-op, so a plugin overrides only what it needs."""

    name = "plugin"

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

    def on_train_end(self, state: TrainState) -> None:
        """Called once when training stops, normally or by a signal (not after divergence)."""

    def state_dict(self) -> Dict[str, Any]:
        """JSON-serialisable state that must survive a resume."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore what `state_dict()` returned."""
