"""The ring and grid sources: points of the true mixture, drawn from the run's seed, with the
layout of their settings section; the sections are validated like every setting; both train
out of the box with their run configs."""
import numpy as np
import pytest

from paddle_gan.config import resolve_settings, settings_from_dict
from paddle_gan.datasets import grid, ring
from paddle_gan.errors import ConfigError
from paddle_gan.metrics.two_d import mode_metrics, true_distribution
from paddle_gan.registry import DATASETS


@pytest.mark.parametrize("name, module", [("ring", ring), ("grid", grid)])
def test_points_of_the_mixture_from_the_seed(name, module):
    settings = settings_from_dict({"data": name, "data_size": 5000, "seed": 4})
    data = module.load(settings)
    assert DATASETS.get(name) is module.load
    assert data.name == name and data.samples.shape == (5000, 2)
    assert data.samples.dtype == np.float32 and not data.is_image
    np.testing.assert_array_equal(data.samples, module.load(settings).samples)
    other = settings_from_dict({"data": name, "data_size": 5000, "seed": 5})
    assert not np.array_equal(data.samples, module.load(other).samples)
    found = mode_metrics(data.samples, true_distribution(settings))
    assert found["modes"] == {"ring": 8, "grid": 25}[name] and found["high_quality"] > 0.97


def test_the_section_sets_the_layout():
    settings = settings_from_dict({"data": "ring", "data_size": 3000,
                                   "ring": {"modes": 3, "radius": 10.0, "sigma": 0.001}})
    points = ring.load(settings).samples
    np.testing.assert_allclose(np.hypot(*points.T), 10.0, atol=0.01)
    assert mode_metrics(points, true_distribution(settings))["modes"] == 3


@pytest.mark.parametrize("raw, message", [
    ({"ring": {"modes": 0}}, "ring.modes must be at least 1"),
    ({"ring": {"sigma": -0.1}}, "ring.sigma must be at least"),
    ({"grid": {"side": 40}}, "grid.side must be at most 31"),
    ({"grid": {"spacing": "wide"}}, "grid.spacing must be float"),
    ({"grid": {"sides": 5}}, r"unknown setting 'grid.sides' \(did you mean 'grid.side'"),
    ({"ring": 8}, "ring must be a mapping"),
])
def test_sections_are_validated(raw, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_dict({"data": "ring", **raw})


@pytest.mark.parametrize("name", ["ring", "grid"])
def test_run_configs_train_the_mixture_mlp(name):
    settings = resolve_settings(None, [], {}, name)
    assert (settings.data, settings.conf) == (name, "conf/mixture_mlp.py")
    # the run config's choices over the conf's DEFAULTS, not v1's uniform schedule
    assert (settings.batch_size, settings.packing) == (512, 4)
    assert (settings.scheduler.name, settings.loss.name) == ("alternate", "non_saturating")
    assert settings.ema.decay == 0.999 and settings.loss.r1_gamma == 0.1
    assert "metrics" in settings.plugins and "samples" in settings.plugins
