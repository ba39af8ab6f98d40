"""The `grid` source of the mode-collapse benchmarks (VEEGAN, PacGAN): `grid.side` x `grid.side`
Gaussians of standard deviation `grid.sigma` on a square grid of spacing `grid.spacing` centred
on the origin (PacGAN's 5x5 means {-4,-2,0,2,4}^2 and sigma 0.05 by default); `data_size` points
drawn once from the run's seed."""
from __future__ import annotations

from ..metrics.two_d import true_distribution
from .base import ArrayDataset, draw_points


def load(settings) -> ArrayDataset:
    """The `grid` data source."""
    return draw_points("grid", true_distribution(settings), settings.data_size, settings.seed)
