"""2-D metrics: exact values on hand-made cases, and good vs bad generators separated."""
import json

import numpy as np
import pytest

from paddle_gan.metrics.two_d import (
    TrueDistribution,
    Uniform2D,
    coverage,
    evaluate_2d,
    inside_share,
    ks_2d,
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
    a = evaluate_2d(points, true_distribution("uniform"), seed=7, checkpoint="ck/p3", pass_id=3)
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


def test_unknown_distribution_lists_known_ones():
    with pytest.raises(KeyError, match="uniform"):
        true_distribution("ring")
