"""Metrics for 2-D samples against a known true distribution, in NumPy alone.

This file owns the `TrueDistribution` contract (support test, sampler, joint CDF, expected mass
of grid cells) with its exact implementations: uniform on a box (the v1 demo's unit square) and
equal-weight Gaussian mixtures (the `ring` and `grid` sources of the mode-collapse benchmarks);
which distribution each 2-D data source has (`true_distribution`); and the numbers that say
whether a 2-D generator has learnt it: for the uniform square the share of points inside the
support and the grid coverage, for a mixture the modes captured, the high-quality share and the
reverse KL of the mode histogram (VEEGAN/PacGAN), and for both the sliced Wasserstein-1 distance
to a fresh true sample and a Fasano-Franceschini 2-D KS statistic against the exact CDF.
`evaluate_2d` bundles them, with the protocol that produced them, into a JSON-serialisable dict.
A new toy distribution only subclasses `TrueDistribution` and is named in `DISTRIBUTIONS`.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

HIGH_QUALITY_SIGMAS = 3.0  # a sample within this many standard deviations of its nearest mode


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


_normal_cdf = np.frompyfunc(lambda z: 0.5 * math.erfc(-z / math.sqrt(2.0)), 1, 1)


class GaussianMixture2D(TrueDistribution):
    """Equal-weight isotropic Gaussians with standard deviation `sigma` at `means` [K, 2].

    Its support is the plane; `inside` is the benchmarks' "high quality" test instead (within
    HIGH_QUALITY_SIGMAS standard deviations of the nearest mode), and `low`/`high` bound the
    means by 4 sigma. `layout` holds the parameters it was made from, for `describe`.
    """

    def __init__(self, name: str, means: np.ndarray, sigma: float, layout: dict):
        self.name, self.sigma, self.layout = name, float(sigma), dict(layout)
        self.means = np.asarray(means, dtype=np.float64).reshape(-1, 2)
        margin = 4.0 * self.sigma
        low, high = self.means.min(axis=0) - margin, self.means.max(axis=0) + margin
        self.low, self.high = (float(low[0]), float(low[1])), (float(high[0]), float(high[1]))

    def nearest(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Index of each point's nearest mode and the distance to it (inf for non-finite points)."""
        p = np.asarray(points, dtype=np.float64)
        index = np.zeros(len(p), dtype=np.int64)
        distance = np.full(len(p), np.inf)
        finite = np.all(np.isfinite(p), axis=1)
        q = p[finite]
        found_i, found_d = np.empty(len(q), dtype=np.int64), np.empty(len(q))
        chunk = max(1, 2**22 // len(self.means))  # bound the [chunk, K] block
        for s in range(0, len(q), chunk):
            d2 = ((q[s : s + chunk, None, :] - self.means[None]) ** 2).sum(axis=2)
            found_i[s : s + chunk] = d2.argmin(axis=1)
            found_d[s : s + chunk] = np.sqrt(d2.min(axis=1))
        index[finite], distance[finite] = found_i, found_d
        return index, distance

    def inside(self, points: np.ndarray) -> np.ndarray:
        return self.nearest(points)[1] < HIGH_QUALITY_SIGMAS * self.sigma

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        modes = rng.integers(0, len(self.means), n)
        return self.means[modes] + self.sigma * rng.standard_normal((n, 2))

    def cdf(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        total = np.zeros(len(p))
        for mx, my in self.means:  # the mean over modes of a product of two normal CDFs
            fx = _normal_cdf((p[:, 0] - mx) / self.sigma).astype(np.float64)
            fy = _normal_cdf((p[:, 1] - my) / self.sigma).astype(np.float64)
            total += fx * fy
        return total / len(self.means)

    def describe(self) -> dict:
        return {"name": self.name, **self.layout, "sigma": self.sigma}


def ring_mixture(modes: int, radius: float, sigma: float) -> GaussianMixture2D:
    """`modes` Gaussians evenly spaced on a circle of `radius` (the first at angle 0)."""
    angles = 2.0 * np.pi * np.arange(modes) / modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return GaussianMixture2D("ring", means, sigma, {"modes": modes, "radius": radius})


def grid_mixture(side: int, spacing: float, sigma: float) -> GaussianMixture2D:
    """side x side Gaussians on a square grid of `spacing`, centred on the origin."""
    axis = spacing * (np.arange(side) - (side - 1) / 2.0)
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    means = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return GaussianMixture2D("grid", means, sigma, {"side": side, "spacing": spacing})


# data source -> its true distribution, from the run's settings (`config.Settings`)
DISTRIBUTIONS = {
    "uniform": lambda settings: Uniform2D(),
    "ring": lambda settings: ring_mixture(settings.ring.modes, settings.ring.radius,
                                          settings.ring.sigma),
    "grid": lambda settings: grid_mixture(settings.grid.side, settings.grid.spacing,
                                          settings.grid.sigma),
}


def true_distribution(settings) -> Optional[TrueDistribution]:
    """The true distribution of the run's 2-D data source, or None (images, a user's source)."""
    factory = DISTRIBUTIONS.get(settings.data)
    return None if factory is None else factory(settings)


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


def mode_metrics(points: np.ndarray, dist: GaussianMixture2D) -> dict:
    """The mode-collapse numbers of VEEGAN (Srivastava et al. 2017, section 5.1) as PacGAN (Lin
    et al. 2018, table 1) computes them in its published code (`MetricLogger` in
    synthetic_data_experiments/PacGAN/pacgan/extensions.py): a sample is high quality when its
    Euclidean distance to its nearest mode is below 3 sigma; a mode is captured when it is the
    nearest mode of at least one high-quality sample (the "at least one" variant, not a minimum
    count per mode); `reverse_kl` is KL(h || uniform) of the histogram h of the high-quality
    samples over the modes (0 when they are spread evenly, ln K when one mode has them all;
    NaN when there is no high-quality sample). In 2-D, true samples are high quality with
    probability 1 - exp(-9/2) = 98.9% (not the 99.7% of the 1-D three-sigma rule).
    """
    p = _as_points(points)
    index, distance = dist.nearest(p)
    good = distance < HIGH_QUALITY_SIGMAS * dist.sigma
    counts = np.bincount(index[good], minlength=len(dist.means))
    reverse_kl = float("nan")
    if counts.sum():
        h = counts[counts > 0] / counts.sum()
        reverse_kl = float(max(np.sum(h * np.log(h * len(dist.means))), 0.0))
    return {
        "modes": int(np.count_nonzero(counts)),
        "high_quality": float(np.mean(good)),
        "reverse_kl": reverse_kl,
        "mode_counts": [int(c) for c in counts],
    }


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

    For the uniform square `inside` and `coverage` (best 1.0, grid cells of `grid`); for a
    mixture `modes` (best: all), `high_quality` (best: 0.989, a true sample's) and `reverse_kl`
    (best 0) with `mode_counts`; for both `sliced_w1` and `ks` (best 0.0; NaN when a point is not
    finite). The true sample for `sliced_w1` is drawn fresh from `seed`.
    """
    p = _as_points(points)
    true = dist.sample(len(p), np.random.default_rng([seed, 1]))
    if isinstance(dist, GaussianMixture2D):
        result = mode_metrics(p, dist)
        protocol = {"high_quality_sigmas": HIGH_QUALITY_SIGMAS}
    else:
        result = {"inside": inside_share(p, dist), "coverage": coverage(p, dist, grid)}
        protocol = {"grid": int(grid)}
    return {
        **result,
        "sliced_w1": sliced_w1(p, true, n_projections, seed),
        "ks": ks_2d(p, dist, ks_points, seed),
        "distribution": dist.describe(),
        "n_samples": int(len(p)),
        "seed": int(seed),
        **protocol,
        "n_projections": int(n_projections),
        "ks_points": int(min(ks_points, len(p))),
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "pass": None if pass_id is None else int(pass_id),
    }
