"""The synthetic 2-D source of the v1 demo: points uniform in the unit square [0, 1)^2."""
from __future__ import annotations

import numpy as np

from .base import ArrayDataset, check_memory


def load_uniform(size: int = 1_000_000, seed: int = 0) -> ArrayDataset:
    """`size` points drawn once from a generator seeded by `seed`."""
    check_memory(size * 2 * 4, f"data_size {size} (float32 points)")
    rng = np.random.default_rng(seed)
    return ArrayDataset("uniform", rng.random((size, 2), dtype=np.float32))


def load(settings) -> ArrayDataset:
    """The `uniform` data source: `data_size` points from the run's seed."""
    return load_uniform(settings.data_size, settings.seed)
