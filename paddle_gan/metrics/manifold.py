"""Precision, recall, density and coverage of generated features against real ones (Naeem et al.
2020, "Reliable Fidelity and Diversity Metrics for Generative Models"), in NumPy alone.

Each real (generated) feature vector gets a ball whose radius is the distance to its k-th
nearest other real (generated) vector. precision: share of generated vectors inside some real
ball; recall: share of real vectors inside some generated ball (Kynkaanniemi et al. 2019);
density: how many real balls hold a generated vector, on average, divided by k; coverage: share
of real balls holding a generated vector. The comparisons are strict (`<`) as in the authors'
reference code (github.com/clovaai/generative-evaluation-prdc), so a set measured against itself
scores exactly 1 on all four. Distances are computed in row blocks of at most BLOCK entries, so
2,000 against 10,000 vectors needs tens of MB whatever the sizes.
"""
from __future__ import annotations

import numpy as np

NEAREST_K = 5  # Naeem et al.'s choice
BLOCK = 2**22  # entries of one block of distances: 32 MB of float64


def _blocks(rows: int, columns: int):
    step = max(1, BLOCK // max(columns, 1))
    for start in range(0, rows, step):
        yield slice(start, min(rows, start + step))


def _squared_distances(a: np.ndarray, b: np.ndarray, b_norms: np.ndarray) -> np.ndarray:
    d2 = np.einsum("ij,ij->i", a, a)[:, None] + b_norms[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)  # rounding can make a distance to oneself slightly negative


def knn_radii(features: np.ndarray, k: int = NEAREST_K) -> np.ndarray:
    """Distance of each vector to its k-th nearest other vector of the same set, [N]."""
    x = np.asarray(features, dtype=np.float64)
    if len(x) <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} vectors, got {len(x)}")
    norms = np.einsum("ij,ij->i", x, x)
    radii = np.empty(len(x))
    for rows in _blocks(len(x), len(x)):
        d2 = _squared_distances(x[rows], x, norms)
        # the smallest is the vector itself (0), so the k-th other one is at index k
        radii[rows] = np.sqrt(np.partition(d2, k, axis=1)[:, k])
    return radii


def prdc(real: np.ndarray, fake: np.ndarray, real_radii: np.ndarray,
         k: int = NEAREST_K) -> dict:
    """{"precision", "recall", "density", "coverage"} of `fake` [M, D] against `real` [N, D],
    whose `knn_radii` are given (they are cached with the reference statistics). NaN when there
    are k or fewer generated vectors (no k-th neighbour)."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if len(fake) <= k:
        return dict.fromkeys(("precision", "recall", "density", "coverage"), float("nan"))
    fake_radii = knn_radii(fake, k)
    real_norms = np.einsum("ij,ij->i", real, real)
    in_real_ball = np.zeros(len(fake), dtype=bool)
    balls_holding = np.zeros(len(fake))  # per generated vector: how many real balls hold it
    in_fake_ball = np.zeros(len(real), dtype=bool)
    nearest_fake = np.full(len(real), np.inf)  # distance of each real vector to its nearest fake
    for rows in _blocks(len(fake), len(real)):
        # distances, not their squares, against the radii: squaring a radius rounds it
        d = np.sqrt(_squared_distances(fake[rows], real, real_norms))  # [block of fakes, N]
        inside = d < real_radii[None, :]
        in_real_ball[rows] = inside.any(axis=1)
        balls_holding[rows] = inside.sum(axis=1)
        in_fake_ball |= (d < fake_radii[rows, None]).any(axis=0)
        np.minimum(nearest_fake, d.min(axis=0), out=nearest_fake)
    return {
        "precision": float(in_real_ball.mean()),
        "recall": float(in_fake_ball.mean()),
        "density": float(balls_holding.mean() / k),
        "coverage": float((nearest_fake < real_radii).mean()),
    }

