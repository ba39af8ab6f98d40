"""Metrics for 2-D samples against a known true distribution, in NumPy alone.

This file owns the `TrueDistribution` contract (support test, sampler, joint CDF, expected mass
of grid cells) with its exact uniform implementation, and the four numbers that say whether a
2-D generator has learnt it: the share of points inside the support, the grid coverage, the
sliced Wasserstein-1 distance to a fresh true sample and a Fasano-Franceschini 2-D KS statistic
against the exact CDF. `evaluate_2d` bundles them, with the protocol that produced them, into a
JSON-serialisable dict. A new toy distribution only subclasses `TrueDistribution`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np


class TrueDistribution(ABC):
    """A known 2-D distribution; `low`/`high` bound its support (the coverage grid's box)."""

    name: str
    low: Tuple[float, float]
    high: Tuple[float, float]

    @abstractmethod
    def inside(self, points: np.ndarray) -> np.ndarray:
        """Boolean per point: is it in the support? Non-finite points are not."""

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` true points, float64 [n, 2]."""

    @abstractmethod
    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Joint CDF P(X <= x, Y <= y) per point; must accept +-inf (marginals use +inf)."""

    @abstractmethod
    def describe(self) -> dict:
        """JSON-serialisable name and parameters, recorded with every result."""

    def grid_mass(self, grid: int) -> np.ndarray:
        """Probability of each cell of a grid x grid partition of the box, [grid, grid] (x, y)."""
        xs = np.linspace(self.low[0], self.high[0], grid + 1)
        ys = np.linspace(self.low[1], self.high[1], grid + 1)
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        f = self.cdf(np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(grid + 1, grid + 1)
        # inclusion-exclusion of the joint CDF at the four corners of every cell
        return f[1:, 1:] - f[:-1, 1:] - f[1:, :-1] + f[:-1, :-1]


@dataclass(frozen=True)
class Uniform2D(TrueDistribution):
    """Uniform on the box [low, high]; the default is the v1 demo's unit square."""

    low: Tuple[float, float] = (0.0, 0.0)
    high: Tuple[float, float] = (1.0, 1.0)
    name: str = "uniform"

    def inside(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        # closed box: a generator hitting the edge exactly has not left the support
        return np.all((p >= np.asarray(self.low)) & (p <= np.asarray(self.high)), axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        low, high = np.asarray(self.low), np.asarray(self.high)
        return low + (high - low) * rng.random((n, 2))

    def cdf(self, points: np.ndarray) -> np.ndarray:
        low, high = np.asarray(self.low), np.asarray(self.high)
        u = np.clip((np.asarray(points, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
        return u[:, 0] * u[:, 1]

    def grid_mass(self, grid: int) -> np.ndarray:
        return np.full((grid, grid), 1.0 / grid**2)

    def describe(self) -> dict:
        return {"name": self.name, "low": list(self.low), "high": list(self.high)}


DISTRIBUTIONS = {"uniform": Uniform2D}


def true_distribution(name: str) -> TrueDistribution:
    """The true distribution of a 2-D data set, by data set name."""
    if name not in DISTRIBUTIONS:
        raise KeyError(f"no true distribution {name!r}; known: {sorted(DISTRIBUTIONS)}")
    return DISTRIBUTIONS[name]()


def _as_points(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) == 0:
        raise ValueError(f"expected a non-empty [n, 2] array of points, got shape {p.shape}")
    return p


def inside_share(points: np.ndarray, dist: TrueDistribution) -> float:
    """Share of points in the support (1.0 is perfect)."""
    return float(np.mean(dist.inside(_as_points(points))))


def coverage(points: np.ndarray, dist: TrueDistribution, grid: int = 10) -> float:
    """Share of grid cells with true mass that hold at least half their expected count."""
    p = _as_points(points)
    finite = p[np.all(np.isfinite(p), axis=1)]
    counts, _, _ = np.histogram2d(
        finite[:, 0], finite[:, 1], bins=grid,
        range=[[dist.low[0], dist.high[0]], [dist.low[1], dist.high[1]]],
    )
    mass = dist.grid_mass(grid)
    # cells the true distribution never visits (e.g. a ring's centre) say nothing about coverage
    live = mass > 0
    covered = counts >= 0.5 * mass * len(p)
    return float(np.mean(covered[live]))


def sliced_w1(a: np.ndarray, b: np.ndarray, n_projections: int = 128, seed: int = 0) -> float:
    """Sliced Wasserstein-1 between equal-size 2-D samples, averaged over seeded directions."""
    a, b = _as_points(a), _as_points(b)
    if len(a) != len(b):
        raise ValueError(f"sliced_w1 needs equal-size samples, got {len(a)} and {len(b)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")
    angles = np.random.default_rng(seed).uniform(0.0, np.pi, n_projections)
    directions = np.stack([np.cos(angles), np.sin(angles)])  # [2, P]
    total, chunk = 0.0, max(1, 2**22 // len(a))  # bound memory for large samples
    for start in range(0, n_projections, chunk):
        d = directions[:, start : start + chunk]
        # in 1-D, W1 between equal-size samples is the mean gap between sorted values
        gaps = np.abs(np.sort(a @ d, axis=0) - np.sort(b @ d, axis=0))
        total += gaps.mean(axis=0).sum()
    return float(total / n_projections)


def ks_2d(points: np.ndarray, dist: TrueDistribution, max_points: int = 2000,
          seed: int = 0) -> float:
    """Fasano-Franceschini statistic: max over evaluation points and the four quadrants of
    |empirical share - true probability|. The evaluation points are the sample points, or a
    seeded subset of `max_points` of them for larger samples (the shares always use all points;
    the subset keeps the cost at n * max_points and gives a lower bound of the full statistic).
    """
    p = _as_points(points)
    if not np.isfinite(p).all():
        return float("nan")
    n = len(p)
    evals = p
    if n > max_points:
        evals = p[np.random.default_rng(seed).choice(n, max_points, replace=False)]
    # counts with <= for x and y; the other quadrants follow by inclusion-exclusion, so ties
    # (a collapsed generator repeats points exactly) are counted consistently
    n_x = np.searchsorted(np.sort(p[:, 0]), evals[:, 0], side="right")
    n_y = np.searchsorted(np.sort(p[:, 1]), evals[:, 1], side="right")
    n_xy = np.empty(len(evals), dtype=np.int64)
    chunk = max(1, 2**22 // n)
    for s in range(0, len(evals), chunk):
        e = evals[s : s + chunk]
        below = (p[None, :, 0] <= e[:, None, 0]) & (p[None, :, 1] <= e[:, None, 1])
        n_xy[s : s + chunk] = below.sum(axis=1)
    empirical = np.stack([n_xy, n_y - n_xy, n_x - n_xy, n - n_x - n_y + n_xy], axis=1) / n
    inf = np.full(len(evals), np.inf)
    f = dist.cdf(evals)
    f_x = dist.cdf(np.stack([evals[:, 0], inf], axis=1))
    f_y = dist.cdf(np.stack([inf, evals[:, 1]], axis=1))
    true = np.stack([f, f_y - f, f_x - f, 1.0 - f_x - f_y + f], axis=1)
    return float(np.max(np.abs(empirical - true)))


def evaluate_2d(points: np.ndarray, dist: TrueDistribution, seed: int = 0, grid: int = 10,
                n_projections: int = 128, ks_points: int = 2000,
                checkpoint: Optional[str] = None, pass_id: Optional[int] = None) -> dict:
    """All 2-D metrics of `points` plus their protocol, as plain JSON-serialisable values.

    `inside` and `coverage` are best at 1.0, `sliced_w1` and `ks` at 0.0 (both are NaN when a
    point is not finite). The true sample for `sliced_w1` is drawn fresh from `seed`.
    """
    p = _as_points(points)
    true = dist.sample(len(p), np.random.default_rng([seed, 1]))
    return {
        "inside": inside_share(p, dist),
        "coverage": coverage(p, dist, grid),
        "sliced_w1": sliced_w1(p, true, n_projections, seed),
        "ks": ks_2d(p, dist, ks_points, seed),
        "distribution": dist.describe(),
        "n_samples": int(len(p)),
        "seed": int(seed),
        "grid": int(grid),
        "n_projections": int(n_projections),
        "ks_points": int(min(ks_points, len(p))),
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "pass": None if pass_id is None else int(pass_id),
    }
