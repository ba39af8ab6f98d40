"""The one registry: names -> factories for plugins, data sources, schedulers and execution
paths; duplicate and unknown names are errors that say what exists; an installed package adds a
data source through its entry point and `-d` trains on it."""
import sys
import textwrap

import pytest

from paddle_gan.cli import train as cli
from paddle_gan.errors import ConfigError
from paddle_gan.registry import DATASETS, EXECUTIONS, PLUGINS, SCHEDULERS, Registry


def fresh(**builtins):
    return Registry("thing", "paddle_gan.test_things", builtins)


def test_builtins_are_imported_on_first_use():
    registry = fresh(dumps="json:dumps", ok="os.path:join")
    assert registry.names() == ["dumps", "ok"]
    import json

    assert registry.get("dumps") is json.dumps


def test_unknown_name_suggests_the_closest_and_lists_all():
    registry = fresh(console="json:dumps", samples="json:loads")
    with pytest.raises(ConfigError, match=r"unknown thing 'sample' \(did you mean 'samples'\?\); "
                                          r"available: console, samples"):
        registry.get("sample")
    with pytest.raises(ConfigError, match="unknown thing 'zzz'; available: console, samples"):
        registry.check("zzz")


def test_a_duplicate_name_is_an_error_naming_both():
    registry = fresh(dumps="json:dumps")

    @registry.register("mine")
    def first(settings):
        return settings

    assert registry.register("mine")(first) is first  # the same object again is harmless
    with pytest.raises(ConfigError, match="two things named 'mine'.*first.*second"):
        @registry.register("mine")
        def second(settings):
            return settings

    with pytest.raises(ConfigError, match="two things named 'dumps': json:dumps and"):
        registry.register("dumps")(first)


def test_a_factory_that_cannot_be_imported_is_one_line():
    registry = fresh(broken="no_such_module_here:load")
    with pytest.raises(ConfigError, match="cannot load thing 'broken' from "
                                          "no_such_module_here:load: ModuleNotFoundError"):
        registry.get("broken")


def test_every_builtin_loads():
    for registry in (PLUGINS, DATASETS, SCHEDULERS, EXECUTIONS):
        for name in registry.names():
            assert callable(registry.get(name)), (registry.kind, name)


@pytest.fixture
def installed_package(tmp_path, monkeypatch):
    """A package on sys.path with a dist-info declaring a data source and a clashing plugin
    name, as `pip install` would leave it."""
    (tmp_path / "my_points.py").write_text(textwrap.dedent("""\
        import numpy as np
        from paddle_gan.datasets.base import ArrayDataset

        def load(settings):
            rng = np.random.default_rng(settings.seed)
            return ArrayDataset("my_points", rng.normal(size=(512, 2)).astype("float32"))
    """))
    info = tmp_path / "my_points-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-points\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[paddle_gan.datasets]\nmy_points = my_points:load\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield info
    sys.modules.pop("my_points", None)


def test_a_data_source_from_an_installed_package_trains(installed_package, tmp_path, capsys):
    assert "my_points" in DATASETS.names()
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "my_points" in capsys.readouterr().out
    out = tmp_path / "run"
    code = cli.main(["-d", "my_points", "--num_passes", "1", "--iters_per_pass", "4",
                     "--batch_size", "16", "--output_dir", str(out),
                     "--set", "plugins=[samples,checkpoint]"])
    assert code == 0
    assert (out / "samples" / "pass-0000.png").is_file()
    assert (out / "checkpoints" / "step-00000004-pass-0000").is_dir()


def test_an_entry_point_clashing_with_a_builtin_is_exit_2(installed_package, capsys):
    (installed_package / "entry_points.txt").write_text(
        "[paddle_gan.datasets]\nmnist = my_points:load\n")
    assert cli.main(["-d", "uniform"]) == 2
    err = capsys.readouterr().err
    assert "two data sources named 'mnist'" in err and "my_points:load" in err
