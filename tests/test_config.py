"""Settings: layering, and one clear error for every kind of bad value."""
import dataclasses
import typing

import pytest

from paddle_gan.config import (
    Settings,
    flatten_settings,
    read_yaml,
    resolve_settings,
    settings_from_dict,
)
from paddle_gan.errors import ConfigError
from paddle_gan.registry import PLUGINS


def resolve(sets=(), flags=None, data="uniform", yaml_path=None):
    return resolve_settings(yaml_path, list(sets), flags or {}, data)


def test_layers_conf_defaults_then_yaml_then_set_then_flags():
    settings = resolve(sets=["batch_size=64"], flags={"batch_size": 16})
    assert settings.batch_size == 16  # flag beats --set
    assert settings.optimizer.beta1 == 0.5  # the conf module's (v1), untouched by the YAML
    assert settings.optimizer.learning_rate == 1e-3  # conf/uniform.yaml beats the conf's 1e-4
    assert settings.num_passes == 10  # conf/uniform.yaml beats the conf module's 100
    assert resolve(sets=["optimizer.beta1=0.9"]).optimizer.beta1 == 0.9  # --set beats both


def test_unknown_key_without_a_close_match_lists_the_valid_ones():
    with pytest.raises(ConfigError,
                       match=r"'optimizer.lr' \(valid: name, learning_rate, beta1, beta2, epsilon"):
        settings_from_dict({"optimizer": {"lr": 1}})


def test_exponent_floats_without_a_dot_are_floats():
    # PyYAML reads "1e-4" as a string; a user writing it means the number.
    assert resolve(sets=["optimizer.learning_rate=1e-4"]).optimizer.learning_rate == 1e-4


def test_unknown_key_names_it_and_suggests():
    with pytest.raises(ConfigError, match=r"setting 'batch_sise'.*did you mean 'batch_size'"):
        settings_from_dict({"batch_sise": 3})
    with pytest.raises(ConfigError, match=r"'scheduler.max_strik'.*'scheduler.max_strike'"):
        settings_from_dict({"scheduler": {"max_strik": 3}})


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"num_passes": -1}, "num_passes must be at least 1"),
        ({"batch_size": "big"}, "batch_size must be int"),
        ({"batch_size": 1.5}, "batch_size must be int"),
        ({"seed": True}, "seed must be int"),
        ({"optimizer": {"learning_rate": "fast"}}, "optimizer.learning_rate must be float"),
        ({"scheduler": {"name": "random"}},
         "scheduler.name: unknown scheduler 'random'; available: alternate, loss_based"),
        ({"scheduler": 5}, "scheduler must be a mapping"),
        ({"plugins": "console"}, "plugins must be a list of names"),
        ({"data": "imagenet"},
         "data: unknown data source 'imagenet'; available: cifar, grid, mnist, ring, uniform"),
        ({"plugins": ["console", "sample"]},
         r"plugins: unknown plugin 'sample' \(did you mean 'samples'\?\)"),
        ({"execution": "fastest"}, r"execution: unknown execution path 'fastest' \(did you"),
    ],
)
def test_bad_values(raw, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_dict(raw)


def test_unknown_data_source_suggests():
    with pytest.raises(ConfigError, match="unknown data source 'unifrom'.*'uniform'"):
        resolve(data="unifrom")


def test_yaml_python_tags_are_refused(tmp_path):
    marker = tmp_path / "marker"
    bad = tmp_path / "bad.yaml"
    bad.write_text(f'seed: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml(bad)
    assert not marker.exists()


def test_yaml_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        read_yaml(path)


def test_bad_set_syntax():
    with pytest.raises(ConfigError, match="--set takes key=value"):
        resolve(sets=["batch_size"])


CONF_OK = (
    "NOISE_DIM = 3\n"
    "import paddle.nn as nn\n"
    "def build_generator(shape):\n"
    "    return nn.Linear(3, shape[0])\n"
    "def build_discriminator(shape):\n"
    "    return nn.Linear(shape[0], 2)\n"
)


@pytest.mark.parametrize("source, message", [
    ("NOISE_DIM = 3\ndef build_generator(:\n", r"bad\.py, line 2: SyntaxError: invalid syntax$"),
    ("import os\nraise RuntimeError('boom')\n", r"bad\.py, line 2: RuntimeError: boom$"),
    ("NOISE_DIM = 3\n", r"does not define build_generator, build_discriminator \("),
])
def test_a_broken_conf_module_is_one_config_error(tmp_path, source, message):
    from paddle_gan.config import load_conf_module
    (tmp_path / "bad.py").write_text(source)
    with pytest.raises(ConfigError, match=message):
        load_conf_module(tmp_path / "bad.py")


def test_an_error_in_a_conf_builder_names_its_line(tmp_path):
    from paddle_gan.config import load_conf_module
    from paddle_gan.networks import build_networks
    (tmp_path / "c.py").write_text(CONF_OK.replace("return nn.Linear(3, shape[0])", "1 / 0"))
    conf = load_conf_module(tmp_path / "c.py")
    with pytest.raises(ConfigError, match=r"c\.py, line 4: ZeroDivisionError: division by zero"):
        build_networks(conf, (2,), Settings())


def test_a_conf_module_runs_once_until_its_file_changes(tmp_path):
    import os

    from paddle_gan.config import load_conf_module
    path = tmp_path / "c.py"
    path.write_text(CONF_OK)
    first = load_conf_module(path)
    assert load_conf_module(path) is first
    path.write_text(CONF_OK.replace("NOISE_DIM = 3", "NOISE_DIM = 4"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = load_conf_module(path)
    assert changed is not first and changed.NOISE_DIM == 4


def test_flatten_settings_keeps_scalars_only():
    flat = flatten_settings({"a": {"b": 1, "c": None}, "l": ["x", "y"], "t": True, "f": 0.5})
    assert flat == {"a.b": 1, "l": "x,y", "t": 1, "f": 0.5}


def _numbers(cls, prefix=""):
    """(dotted name, metadata) of every int or float field of a settings dataclass, nested."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if typing.get_origin(hint) is typing.Union and len(args) == 1 else hint
        if dataclasses.is_dataclass(hint):
            yield from _numbers(hint, f"{prefix}{f.name}.")
        elif hint in (int, float):
            yield prefix + f.name, f.metadata


def test_every_number_setting_and_plugin_option_has_a_range():
    builtin = [name for name in PLUGINS.names()
               if PLUGINS.get(name).__module__.startswith("paddle_gan.")]
    classes = [("", Settings)] + [(f"plugin_options.{name}.", PLUGINS.get(name).Options)
                                  for name in builtin]
    numbers = [(prefix + name, meta) for prefix, cls in classes for name, meta in _numbers(cls)]
    assert len(numbers) > 20
    assert [name for name, meta in numbers if "min" not in meta] == []
    # ints need a top too: a count the code cannot serve (10^40 passes) is not a setting
    ints = [name for name, meta in numbers if isinstance(meta.get("min"), int)]
    assert [name for name, meta in numbers if name in ints and "max" not in meta] == []


@pytest.mark.parametrize("option", ["console.every_n_iters=0", "samples.grid=0",
                                    "checkpoint.keep_last=0", "checkpoint.every_n_iters=-1",
                                    "visualdl.every_n_iters=0", "metrics.n_samples=1"])
def test_a_plugin_option_out_of_range_is_exit_2(option, tmp_path, capsys):
    from paddle_gan.cli.train import main

    code = main(["-d", "uniform", "--output_dir", str(tmp_path),
                 "--set", f"plugin_options.{option}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"error: plugin_options.{option.split('=')[0]} must be at least")


def test_a_conf_that_is_not_a_python_file_is_one_line(tmp_path):
    from paddle_gan.config import load_conf_module

    text = tmp_path / "conf.txt"
    text.write_text("NOISE_DIM = 2\n")
    with pytest.raises(ConfigError, match="not a Python file"):
        load_conf_module(text)
