"""Assemble a run from settings: device, seeds, data, networks, plugins, state; then train.

This is the glue between `Settings` and `trainer.train`: it writes the resolved `config.yaml`,
sends the `paddle_gan` logger to the terminal and `train.log`, and turns SIGINT/SIGTERM into a
request to stop after the current step. Random streams are separated by purpose so that the
data, the noise of each step, the fixed sample noise and the shuffles never share a generator.
"""
from __future__ import annotations

import contextlib
import logging
import random
import signal
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import yaml

from . import runtime
from .checkpoint import Checkpointer
from .config import Settings, load_conf_module, settings_to_dict
from .datasets.base import BatchSampler
from .errors import Diverged
from .noise import NoiseStream, fixed_noise
from .plugins import build_plugins
from .registry import DATASETS, EXECUTIONS, SCHEDULERS
from .state import TrainState

log = logging.getLogger("paddle_gan")

FIXED_NOISE_IMAGES, FIXED_NOISE_POINTS = 64, 1024  # an 8x8 grid; enough points for a histogram


def setup_logging(output_dir: Optional[Path]) -> None:
    """Terminal: the message only; train.log (rank 0): with a timestamp."""
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    terminal = logging.StreamHandler(sys.stdout)
    terminal.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(terminal)
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        logfile = logging.FileHandler(output_dir / "train.log")
        logfile.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        log.addHandler(logfile)


def build_state(settings: Settings, output_dir: Path) -> TrainState:
    """Everything a run needs, freshly initialised from the seed."""
    import paddle

    from .networks import build_networks

    random.seed(settings.seed)
    np.random.seed(settings.seed)  # nothing of ours draws from it; a conf module or plugin may
    paddle.seed(settings.seed)
    dataset = DATASETS.get(settings.data)(settings)
    conf = load_conf_module(settings.resolved_conf_path())
    nets = build_networks(conf, dataset.sample_shape, settings.optimizer)
    count = FIXED_NOISE_IMAGES if dataset.is_image else FIXED_NOISE_POINTS
    return TrainState(
        settings=settings,
        nets=nets,
        dataset=dataset,
        sampler=BatchSampler(len(dataset), settings.batch_size, settings.seed),
        noise=NoiseStream(settings.seed, (settings.batch_size, nets.noise_dim)),
        scheduler=SCHEDULERS.get(settings.scheduler.name)(settings.scheduler),
        step=EXECUTIONS.get(settings.execution)(nets),
        output_dir=output_dir,
        fixed_noise=fixed_noise(settings.seed, count, nets.noise_dim),
        is_writer=runtime.is_writer(),
    )


@contextlib.contextmanager
def stop_on_signals(state: TrainState):
    """SIGINT/SIGTERM ask the loop to stop after the current step; a second one stops at once."""

    def request_stop(signum, frame):
        state.stop_reason = signal.Signals(signum).name
        log.info(f"{state.stop_reason} received: stopping after the current step")
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, previous[sig])

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(settings: Settings, notes: List[str] = ()) -> TrainState:
    """Train with `settings`; returns the final state (its stop_reason says if a signal came)."""
    from .trainer import train

    output_dir = settings.resolved_output_dir()
    setup_logging(output_dir if runtime.is_writer() else None)
    device = runtime.select_device(settings.use_gpu, settings.gpu_id)
    for note in notes:
        log.info(f"cpu set-up: {note}")
    log.info(f"device: {device}")
    state = build_state(settings, output_dir)
    plugins = build_plugins(settings.plugins, settings.plugin_options, state.is_writer)
    state.checkpointer = Checkpointer(output_dir, plugins)
    if settings.resume:
        state.checkpointer.resume(state, settings.resume)
    if state.is_writer:
        with open(output_dir / "config.yaml", "w") as f:
            yaml.safe_dump(settings_to_dict(settings), f, sort_keys=False)
    with stop_on_signals(state):
        try:
            train(state, plugins)
        except Diverged as err:
            # A loss is caught inside the step, before the counters move on; a parameter is
            # caught by a checkpoint after them.
            ahead = 1 if err.kind == "loss" else 0
            err.args = (f"{err} at pass {state.pass_id} iteration {state.iteration + ahead} "
                        f"(step {state.global_step + ahead})",)
            raise
    return state
