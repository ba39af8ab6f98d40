"""Precision, recall, density and coverage: a set against itself scores 1, disjoint sets 0, a
collapsed set has no recall, and the blocked computation equals the whole-matrix one."""
import numpy as np
import pytest

from paddle_gan.metrics import manifold
from paddle_gan.metrics.manifold import knn_radii, prdc


def exact_features(n, seed):
    """Integer features: every distance is computed exactly in float64, so the k-NN balls have
    no rounding at their edges and the known answers hold to the last digit."""
    return np.random.default_rng(seed).integers(0, 1000, (n, 16)).astype(np.float64)


def naive(real, fake, k):
    """Naeem et al.'s formulas on the whole distance matrices."""
    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))

    r_radii = np.sort(dist(real, real), axis=1)[:, k]
    f_radii = np.sort(dist(fake, fake), axis=1)[:, k]
    d = dist(real, fake)  # [real, fake]
    return {"precision": (d < r_radii[:, None]).any(axis=0).mean(),
            "recall": (d < f_radii[None, :]).any(axis=1).mean(),
            "density": (d < r_radii[:, None]).sum(axis=0).mean() / k,
            "coverage": (d.min(axis=1) < r_radii).mean()}


def test_a_set_against_itself_scores_one():
    x = exact_features(400, 0)
    assert prdc(x, x, knn_radii(x)) == {"precision": 1.0, "recall": 1.0, "density": 1.0,
                                        "coverage": 1.0}


def test_disjoint_sets_score_zero_and_a_subset_is_precise():
    real = exact_features(300, 1)
    far = prdc(real, real[:100] + 10_000, knn_radii(real))
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    subset = prdc(real, real[:100], knn_radii(real))
    assert subset["precision"] == 1.0 and subset["coverage"] >= 1 / 3  # their own balls at least


def test_a_collapsed_set_has_no_recall():
    real = exact_features(200, 2)
    collapsed = np.repeat(real[:1], 50, axis=0)  # one sample repeated: its balls have radius 0
    result = prdc(real, collapsed, knn_radii(real))
    assert result["recall"] == 0.0 and result["precision"] == 1.0
    assert result["coverage"] < 0.05  # the few real balls that hold that one sample


def test_blocks_give_the_whole_matrix_answer(monkeypatch):
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(150, 8)), rng.normal(0.3, 1.2, size=(90, 8))
    expected = naive(real, fake, 5)
    monkeypatch.setattr(manifold, "BLOCK", 500)  # a few rows a block: many blocks
    blocked = prdc(real, fake, knn_radii(real))
    assert blocked == pytest.approx(expected)
    np.testing.assert_allclose(knn_radii(real), np.sort(
        np.sqrt(((real[:, None] - real[None]) ** 2).sum(axis=2)), axis=1)[:, 5])


def test_too_few_samples():
    real = exact_features(20, 4)
    assert all(np.isnan(v) for v in prdc(real, real[:5], knn_radii(real)).values())
    with pytest.raises(ValueError, match="more than 5"):
        knn_radii(real[:5])
