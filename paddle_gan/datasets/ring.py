"""The `ring` source of the mode-collapse benchmarks (VEEGAN, PacGAN): `ring.modes` Gaussians of
standard deviation `ring.sigma` evenly spaced on a circle of radius `ring.radius` (PacGAN's 8,
1 and 0.01 by default); `data_size` points drawn once from the run's seed."""
from __future__ import annotations

from ..metrics.two_d import true_distribution
from .base import ArrayDataset, draw_points


def load(settings) -> ArrayDataset:
    """The `ring` data source."""
    return draw_points("ring", true_distribution(settings), settings.data_size, settings.seed)
