"""The `samples` plugin: a picture per pass from one fixed noise batch saved with the run.

Images become an 8x8 grid (a conditional run's: a row per class, the same noise down each
column); 2-D points a scatter over the true support next to a 2-D histogram (or, for a mixture,
the high-quality points of each mode). For the uniform square the plugin also logs the share of
points inside the support and how many grid cells hold at least half their expected share; for a
mixture, how many modes are captured and the high-quality share. The noise is
`state.fixed_noise` (restored on resume), so pictures are comparable across passes and runs. The
picture is published as `state.picture` for other plugins (the VisualDL dashboard shows the same
one).
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import numpy as np

from .. import storage
from ..metrics.two_d import (
    GaussianMixture2D,
    coverage,
    inside_share,
    mode_metrics,
    true_distribution,
)
from ..networks import generate
from ..render import grid_columns, pass_title, samples_png
from ..state import Picture, TrainState
from .base import Plugin

log = logging.getLogger(__name__)


def sample_path(output_dir, pass_id: int):
    return output_dir / "samples" / f"pass-{pass_id:04d}.png"


def fixed_noise_picture(state: TrainState) -> tuple:
    """(samples, PNG bytes) of the pass's picture from the run's fixed noise (and labels)."""
    classes = state.nets.num_classes
    samples = generate(state.nets.generator, state.fixed_noise, state.fixed_labels)
    png = samples_png(samples, state.dataset.pixel_range,
                      pass_title(state.pass_id, state.global_step, bool(classes)),
                      true_distribution(state.settings), grid_columns(len(samples), classes))
    return samples, png


class SamplesPlugin(Plugin):
    name = "samples"

    @dataclass
    class Options:
        # 2-D data: cells per side for the coverage count and the histogram
        grid: int = field(default=10, metadata={"min": 1, "max": 1000})

    def __init__(self, options: Options):
        self.grid = options.grid

    def on_train_start(self, state: TrainState) -> None:
        folder = storage.make_folder(state.output_dir / "samples", "the samples folder")
        buffer = io.BytesIO()
        np.save(buffer, state.fixed_noise)
        storage.write_bytes(folder / "fixed_noise.npy", buffer.getvalue(), "the fixed noise")

    def on_pass_end(self, state: TrainState) -> None:
        samples, png = fixed_noise_picture(state)
        path = sample_path(state.output_dir, state.pass_id)
        dist = true_distribution(state.settings)  # None: images, or a user's 2-D source
        message = f"pass {state.pass_id} samples: {path}"
        if isinstance(dist, GaussianMixture2D):
            found = mode_metrics(samples, dist)
            message = (f"pass {state.pass_id} samples: {found['modes']}/{len(dist.means)} modes "
                       f"captured, {found['high_quality']:.1%} high quality; {path}")
        elif dist is not None:
            inside = inside_share(samples, dist)
            cells = int(round(coverage(samples, dist, self.grid) * self.grid**2))
            message = (f"pass {state.pass_id} samples: {inside:.1%} inside the support, {cells}/"
                       f"{self.grid**2} cells hold at least half their expected share; {path}")
        storage.write_bytes(path, png, "sample picture")
        state.picture = Picture(state.pass_id, png, path)
        log.info(message)
