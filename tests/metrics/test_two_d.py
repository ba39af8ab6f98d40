"""2-D metrics: exact values on hand-made cases, and good vs bad generators separated."""
import json

import numpy as np
import pytest

from paddle_gan.config import Settings, settings_from_dict
from paddle_gan.metrics.two_d import (
    GaussianMixture2D,
    TrueDistribution,
    Uniform2D,
    coverage,
    evaluate_2d,
    inside_share,
    ks_2d,
    mode_metrics,
    sliced_w1,
    true_distribution,
)


def test_true_uniform_sample_scores_near_perfect():
    points = Uniform2D().sample(10_000, np.random.default_rng(1))
    result = evaluate_2d(points, Uniform2D(), seed=3)
    assert result["inside"] == 1.0
    assert result["coverage"] == 1.0
    assert result["sliced_w1"] < 0.01
    assert result["ks"] < 0.03


def test_collapsed_generator_scores_badly():
    rng = np.random.default_rng(2)
    points = 0.02 + 0.01 * rng.random((10_000, 2))  # every point in one corner cell
    result = evaluate_2d(points, Uniform2D(), seed=3)
    assert result["inside"] == 1.0  # inside alone cannot see a collapse ...
    assert result["coverage"] == 0.01  # ... coverage, W1 and KS do
    assert result["sliced_w1"] > 0.3
    assert result["ks"] > 0.9


def test_exactly_repeated_point_and_outside_points():
    points = np.full((500, 2), 0.5)
    assert ks_2d(points, Uniform2D()) == pytest.approx(0.75)  # 1 - 0.25 in the lower-left
    shifted = Uniform2D().sample(4000, np.random.default_rng(0)) + 0.5
    assert inside_share(shifted, Uniform2D()) == pytest.approx(0.25, abs=0.03)


def test_ks_single_point_by_hand():
    # at (0.5, 0.5): empirical quadrant shares (1, 0, 0, 0), true ones (0.25 each)
    assert ks_2d(np.array([[0.5, 0.5]]), Uniform2D()) == 0.75
    # at (0.2, 0.9): lower-left 1 vs 0.18 -> 0.82
    assert ks_2d(np.array([[0.2, 0.9]]), Uniform2D()) == pytest.approx(0.82)


def test_sliced_w1_of_a_shift_is_two_over_pi_times_its_length():
    a = Uniform2D().sample(2000, np.random.default_rng(0))
    shift = np.array([0.3, 0.4])
    # each projection moves by |shift . u|; its mean over directions is 2/pi * |shift|
    assert sliced_w1(a, a + shift, n_projections=2000) == pytest.approx(
        2 / np.pi * 0.5, rel=0.02
    )
    assert sliced_w1(a, a) == 0.0


def test_coverage_counts_half_the_expected_mass():
    # a 2x2 grid, 8 points: each cell expects 2, so 1 point is enough and 0 is not
    points = np.array([[0.1, 0.1]] * 4 + [[0.9, 0.1]] * 3 + [[0.1, 0.9]])
    assert coverage(points, Uniform2D(), grid=2) == 0.75


def test_grid_mass_from_cdf_matches_exact_uniform_on_any_box():
    dist = Uniform2D(low=(-1.0, 2.0), high=(3.0, 5.0))
    generic = TrueDistribution.grid_mass(dist, 7)  # the path a new distribution would use
    np.testing.assert_allclose(generic, dist.grid_mass(7), atol=1e-12)
    assert dist.grid_mass(7).sum() == pytest.approx(1.0)
    assert dist.inside(np.array([[-1.0, 5.0], [3.01, 3.0], [np.nan, 3.0]])).tolist() == [
        True, False, False,
    ]


def test_result_is_json_with_protocol_and_deterministic():
    points = Uniform2D().sample(3000, np.random.default_rng(5))
    a = evaluate_2d(points, true_distribution(Settings(data="uniform")), seed=7,
                    checkpoint="ck/p3", pass_id=3)
    b = evaluate_2d(points, Uniform2D(), seed=7, checkpoint="ck/p3", pass_id=3)
    assert a == b
    assert json.loads(json.dumps(a)) == a
    assert a["n_samples"] == 3000 and a["seed"] == 7 and a["pass"] == 3
    assert a["distribution"] == {"name": "uniform", "low": [0.0, 0.0], "high": [1.0, 1.0]}


def test_non_finite_points_do_not_crash():
    points = Uniform2D().sample(100, np.random.default_rng(0))
    points[0] = np.nan
    result = evaluate_2d(points, Uniform2D())
    assert result["inside"] == 0.99
    assert np.isnan(result["sliced_w1"]) and np.isnan(result["ks"])


def test_data_without_a_true_distribution_has_none():
    assert true_distribution(Settings(data="mnist")) is None


# --- the mixtures of the mode-collapse benchmarks ----------------------------------------------

RING, GRID = Settings(data="ring"), Settings(data="grid")
TRUE_HIGH_QUALITY = 1 - np.exp(-4.5)  # P(|x - mode| < 3 sigma) for a 2-D isotropic Gaussian


def test_default_layouts_are_pacgans():
    ring, grid = true_distribution(RING), true_distribution(GRID)
    assert isinstance(ring, GaussianMixture2D) and (ring.sigma, grid.sigma) == (0.01, 0.05)
    np.testing.assert_allclose(np.hypot(*ring.means.T), 1.0)
    np.testing.assert_allclose(np.diff(np.arctan2(ring.means[:, 1], ring.means[:, 0])[:5]),
                               np.pi / 4)
    assert sorted(set(grid.means.ravel().tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len(grid.means) == 25
    assert ring.describe() == {"name": "ring", "modes": 8, "radius": 1.0, "sigma": 0.01}
    custom = true_distribution(settings_from_dict(
        {"data": "grid", "grid": {"side": 3, "spacing": 1.0, "sigma": 0.1}}))
    assert sorted(set(custom.means.ravel().tolist())) == [-1.0, 0.0, 1.0]


@pytest.mark.parametrize("settings", [RING, GRID], ids=["ring", "grid"])
def test_true_samples_capture_every_mode_and_are_high_quality(settings):
    dist = true_distribution(settings)
    result = evaluate_2d(dist.sample(2500, np.random.default_rng(4)), dist, seed=1)
    assert result["modes"] == len(dist.means)
    # 98.9% in 2-D (the 99.7% of the three-sigma rule is 1-D); 2,500 samples: sd 0.2%
    assert result["high_quality"] == pytest.approx(TRUE_HIGH_QUALITY, abs=0.008)
    assert result["reverse_kl"] < 0.02
    assert sum(result["mode_counts"]) == round(result["high_quality"] * 2500)
    assert set(result) >= {"sliced_w1", "ks", "high_quality_sigmas"} and "inside" not in result


@pytest.mark.parametrize("settings", [RING, GRID], ids=["ring", "grid"])
def test_samples_of_one_mode_capture_one(settings):
    dist = true_distribution(settings)
    points = dist.means[3] + dist.sigma * np.random.default_rng(0).standard_normal((2500, 2))
    result = mode_metrics(points, dist)
    assert result["modes"] == 1 and result["mode_counts"][3] == sum(result["mode_counts"])
    # KL(one mode || uniform over K) = ln K
    assert result["reverse_kl"] == pytest.approx(np.log(len(dist.means)))


def test_an_even_mode_histogram_has_zero_reverse_kl():
    dist = true_distribution(GRID)
    points = np.repeat(dist.means, 4, axis=0)  # every mode, equally often, exactly on it
    result = mode_metrics(points, dist)
    assert (result["modes"], result["high_quality"], result["reverse_kl"]) == (25, 1.0, 0.0)


def test_high_quality_is_within_three_sigma_of_the_nearest_mode():
    dist = true_distribution(RING)  # modes 1 apart at least 0.76: no ambiguity at 3 sigma
    first = dist.means[0]
    points = np.array([first + [0.029, 0], first + [0, -0.031], [5.0, 5.0], [np.nan, 0.0]])
    assert dist.inside(points).tolist() == [True, False, False, False]
    result = mode_metrics(points, dist)
    assert (result["modes"], result["high_quality"]) == (1, 0.25)
    assert result["reverse_kl"] == pytest.approx(np.log(8))  # all on one mode of 8
    far = mode_metrics(np.full((10, 2), 5.0), dist)
    assert (far["modes"], far["high_quality"]) == (0, 0.0) and np.isnan(far["reverse_kl"])


def test_mixture_cdf_matches_its_samples():
    # overlapping modes
    dist = true_distribution(settings_from_dict({"data": "ring", "ring": {"sigma": 0.3}}))
    sample = dist.sample(200_000, np.random.default_rng(7))
    at = np.array([[0.0, 0.0], [0.5, -0.2], [-1.2, 1.0], [np.inf, 0.3]])
    empirical = [np.mean((sample[:, 0] <= x) & (sample[:, 1] <= y)) for x, y in at]
    np.testing.assert_allclose(dist.cdf(at), empirical, atol=0.005)
    assert dist.cdf(np.array([[np.inf, np.inf]]))[0] == pytest.approx(1.0)
    assert ks_2d(sample[:3000], dist) < 0.05
