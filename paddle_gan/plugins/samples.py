"""The `samples` plugin: a picture per pass from one fixed noise batch saved with the run.

Images become an 8x8 grid; 2-D points a scatter over the true support next to a 2-D histogram,
and for 2-D data the plugin also logs the share of points inside the support and how many grid
cells hold at least half their expected share. The noise is `state.fixed_noise` (restored on
resume), so pictures are comparable across passes and runs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..metrics.two_d import coverage, inside_share, true_distribution
from ..networks import generate
from ..render import save_samples
from .base import Plugin, TrainState
from .registry import register

log = logging.getLogger("paddle_gan")


def sample_path(output_dir, pass_id: int):
    return output_dir / "samples" / f"pass-{pass_id:04d}.png"


@register
class SamplesPlugin(Plugin):
    name = "samples"

    @dataclass
    class Options:
        grid: int = 10  # 2-D data: cells per side for the coverage count and the histogram

    def __init__(self, options: Options):
        self.grid = options.grid

    def on_train_start(self, state: TrainState) -> None:
        (state.output_dir / "samples").mkdir(parents=True, exist_ok=True)
        np.save(state.output_dir / "samples" / "fixed_noise.npy", state.fixed_noise)

    def on_pass_end(self, state: TrainState) -> None:
        samples = generate(state.nets.generator, state.fixed_noise)
        path = sample_path(state.output_dir, state.pass_id)
        if state.dataset.is_image:
            save_samples(samples, path, state.dataset.pixel_range)
            log.info(f"pass {state.pass_id} samples: {path}")
            return
        dist = true_distribution(state.settings.data)
        inside = inside_share(samples, dist)
        cells = int(round(coverage(samples, dist, self.grid) * self.grid**2))
        save_samples(samples, path, title=f"pass {state.pass_id}")
        log.info(
            f"pass {state.pass_id} samples: {inside:.1%} inside the support, {cells}/"
            f"{self.grid**2} cells hold at least half their expected share; {path}"
        )
