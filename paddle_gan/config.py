"""Typed run settings: YAML (safe loader) + the conf module's defaults + flags -> `Settings`.

Precedence, lowest first: the dataclass defaults, the conf module's `DEFAULTS`, the YAML run
config, `--set key=value`, then the named flags. Every layer is a plain dict merged key by key;
`settings_from_dict` then checks it once: an unknown key is an error that names it and suggests
the closest valid one, and wrong types or out-of-range values are errors too. This file never
imports paddle, so the CLI can read settings before the CPU environment is set up.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union, get_args, get_origin, get_type_hints

import yaml

from .errors import ConfigError, did_you_mean, shorten
from .registry import DATASETS, EXECUTIONS, LOSSES, OPTIMIZERS, PLUGINS, SCHEDULERS
from .storage import is_remote, local_folder, local_path

_PACKAGE = Path(__file__).resolve().parent
# The files that ship with paddle_gan (conf modules, run configs, sweeps, data scripts): the top
# level conf/ and data/ of a source checkout, or the copy a wheel carries (setup.py puts them in
# paddle_gan/builtin). A checkout is told by its pyproject.toml beside the package.
IN_CHECKOUT = (_PACKAGE.parent / "pyproject.toml").is_file()
RESOURCES = _PACKAGE.parent if IN_CHECKOUT else _PACKAGE / "builtin"
CONF_DIR = RESOURCES / "conf"
# Where data lands by default: the checkout's data/ (beside its scripts), else ./data.
DATA_HOME = RESOURCES / "data" if IN_CHECKOUT else Path("data")
MAX_SEED = 2**32 - 1  # what NumPy's global seed and Paddle's generator take
# Passes, iterations and other counts: 10^9 of each keeps every product (the step) in int64.
MAX_COUNT = 10**9
MAX_YAML_BYTES = 1 << 20  # a run config is a screenful; a bigger file is a mistake
DEFAULT_REMOTE_CACHE = Path("output") / "remote"
MASK = "***"  # what config.yaml, checkpoints and dashboards show of each storage option


@dataclass
class OptimizerSettings:
    """One network's optimiser (`optimizer` for both, `optimizer_d`/`optimizer_g` to differ);
    beta1/beta2 are Adam's, rho RMSProp's, momentum RMSProp's and SGD's."""

    name: str = field(default="adam", metadata={"registry": OPTIMIZERS})
    learning_rate: float = field(default=1e-4, metadata={"min": 1e-12, "max": 100.0})  # v1's
    beta1: float = field(default=0.5, metadata={"min": 0.0, "max": 0.999999})  # Adam's, v1's
    beta2: float = field(default=0.999, metadata={"min": 0.0, "max": 0.999999})  # Adam's
    epsilon: float = field(default=1e-8, metadata={"min": 1e-16, "max": 1.0})  # in the divisor
    rho: float = field(default=0.9, metadata={"min": 0.0, "max": 0.999999})  # RMSProp's decay
    # RMSProp's and SGD's (SGD with momentum > 0 is Paddle's Momentum)
    momentum: float = field(default=0.0, metadata={"min": 0.0, "max": 0.999999})
    # the learning rate over the run: constant ("none"), or from `decay_start` (a share of the
    # run's iterations) down to 0 at its last iteration, in a line or a half cosine
    decay: str = field(default="none", metadata={"choices": ("none", "linear", "cosine")})
    decay_start: float = field(default=0.0, metadata={"min": 0.0, "max": 0.999})  # 0.3: 30%


@dataclass
class LossSettings:
    # v1: the demo's two-logit softmax; minimax and non_saturating: Goodfellow et al.'s; lsgan;
    # hinge; wgan_gp (docs/losses.md)
    name: str = field(default="v1", metadata={"registry": LOSSES})
    # one-sided label smoothing for the logistic losses: the real label (0.9 is the usual)
    real_label: float = field(default=1.0, metadata={"min": 0.5, "max": 1.0})
    gp_lambda: float = field(default=10.0, metadata={"min": 0.0, "max": 1e6})  # WGAN-GP's weight
    # R1 penalty (gamma/2 E||grad D(real)||^2), for the logistic losses; 0: off
    r1_gamma: float = field(default=0.0, metadata={"min": 0.0, "max": 1e6})
    # a conditional conf (NUM_CLASSES): weight of the auxiliary class cross-entropy (AC-GAN)
    aux_weight: float = field(default=1.0, metadata={"min": 0.0, "max": 1e6})
    # G's loss over this many batches of noise: the iteration's, and more drawn by the step
    # (the Keras AC-GAN trains G on 2)
    g_batches: int = field(default=1, metadata={"min": 1, "max": 64})


@dataclass
class SchedulerSettings:
    # loss_based: v1's, train the network with the larger forward loss; alternate: fixed steps
    name: str = field(default="loss_based", metadata={"registry": SCHEDULERS})
    # loss_based: at most this many picks of the same network in a row (v1: 5)
    max_strike: int = field(default=5, metadata={"min": 1, "max": MAX_COUNT})
    # alternate: d_steps D steps, then g_steps G steps
    d_steps: int = field(default=1, metadata={"min": 1, "max": MAX_COUNT})
    g_steps: int = field(default=1, metadata={"min": 1, "max": MAX_COUNT})  # then G steps


@dataclass
class EmaSettings:
    """An exponential moving average of G in the `generator` network (the one that draws every
    picture and metric and is exported): after each G update from iteration `start` on,
    generator += (1 - decay) * (G - generator); 0: off, the generator is a copy of G (v1)."""

    decay: float = field(default=0.0, metadata={"min": 0.0, "max": 0.999999})  # 0.999: ~1000
    start: int = field(default=0, metadata={"min": 0, "max": MAX_COUNT})  # copies until then


@dataclass
class TimeoutSettings:
    """How long a run waits for what it does not control, in seconds; past it the run ends with
    one line (docs/reliability.md)."""

    # a store (s3://, webhdfs://): one upload, and the end-of-run wait for the last ones
    storage: float = field(default=180.0, metadata={"min": 1.0, "max": 86400.0})
    # data-parallel: a rank that shows no sign of life this long is lost (its iterations show it)
    rank: float = field(default=120.0, metadata={"min": 1.0, "max": 86400.0})
    # data-parallel: a pass-end barrier (rank 0 may spend long on pictures, metrics, uploads)
    barrier: float = field(default=1800.0, metadata={"min": 1.0, "max": 604800.0})


# The 2-D mixtures' layouts and spreads; the defaults are PacGAN's synthetic experiments (Lin et
# al. 2018): 8 modes on a circle of radius 1 with sigma 0.01, a 5x5 grid with spacing 2 (means
# {-4,-2,0,2,4}^2) with sigma 0.05. Only the section of the run's own data source is read.
@dataclass
class RingSettings:
    modes: int = field(default=8, metadata={"min": 1, "max": 1000})  # Gaussians on the circle
    radius: float = field(default=1.0, metadata={"min": 1e-6, "max": 1e6})  # the circle's
    sigma: float = field(default=0.01, metadata={"min": 1e-9, "max": 1e6})  # each Gaussian's


@dataclass
class GridSettings:
    side: int = field(default=5, metadata={"min": 1, "max": 31})  # side x side modes
    # between neighbours; the grid is centred on 0 (means {-4,-2,0,2,4}^2)
    spacing: float = field(default=2.0, metadata={"min": 1e-6, "max": 1e6})
    sigma: float = field(default=0.05, metadata={"min": 1e-9, "max": 1e6})  # each Gaussian's


@dataclass
class Settings:
    # the data source (-d): the 2-D uniform square, ring or grid; MNIST or CIFAR-10 images
    data: str = field(default="uniform", metadata={"registry": DATASETS})
    # the conf module; a relative path is from the current folder, else one that ships with
    # paddle_gan (conf/...)
    conf: str = "conf/gan_conf.py"
    data_dir: str = ""  # default: data/<data>_data; a URL (s3://, hdfs://...) is cached locally
    # the 2-D sources (uniform, ring, grid): how many points are drawn
    data_size: int = field(default=1_000_000, metadata={"min": 1, "max": 10**12})
    ring: RingSettings = field(default_factory=RingSettings)
    grid: GridSettings = field(default_factory=GridSettings)
    # MNIST/CIFAR files of the official size must have the official checksum; false: train on
    # another data set in the same format (Fashion-MNIST, say)
    verify_data: bool = True
    # passes to train; after each a picture, metrics and a checkpoint (with their plugins)
    num_passes: int = field(default=100, metadata={"min": 1, "max": MAX_COUNT})
    # or "epoch": as many iterations as the data has whole batches
    iters_per_pass: Union[int, str] = field(default=10_000, metadata={
        "min": 1, "max": MAX_COUNT, "words": ("epoch",)})
    batch_size: int = field(default=128, metadata={"min": 1, "max": 1 << 20})  # v1: 128
    # data-parallel (paddle.distributed.launch): batch_size is the whole step's batch, each of
    # N processes taking batch_size / N ("global"), or each process's ("per_process": the
    # step's batch is N x batch_size)
    batch_split: str = field(default="global", metadata={"choices": ("global", "per_process")})
    # every random stream of the run (data, noise, shuffles, init): same seed, same results
    seed: int = field(default=1, metadata={"min": 0, "max": MAX_SEED})
    use_gpu: Optional[bool] = None  # None: GPU when the build and a device are there
    gpu_id: int = field(default=0, metadata={"min": 0, "max": 1023})  # which GPU
    output_dir: str = ""  # default: output/<data>; a URL is staged locally and uploaded
    resume: str = ""  # "", "auto" or a checkpoint path (or URL)
    # fsspec's options for URLs (credentials, endpoint_url, ...); every value is masked wherever
    # settings are written (config.yaml, checkpoints, VisualDL, the log)
    storage_options: Dict[str, Any] = field(default_factory=dict, metadata={"free": True})
    timeouts: TimeoutSettings = field(default_factory=TimeoutSettings)
    # where data read from a URL is cached and a run writing to a URL is staged on this machine
    remote_cache: str = ""  # default: output/remote
    # fast: the same numbers from fewer forwards (docs/performance.md); plain: v1's literal step
    execution: str = field(default="fast", metadata={"registry": EXECUTIONS})
    loss: LossSettings = field(default_factory=LossSettings)
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    # per network; None: `optimizer`. Keys given here override `optimizer`'s (see resolve_settings)
    optimizer_d: Optional[OptimizerSettings] = None
    optimizer_g: Optional[OptimizerSettings] = None  # as optimizer_d, for G
    # G's input: standard normal, or uniform on [-1, 1] (the TensorFlow and Keras examples')
    noise: str = field(default="normal", metadata={"choices": ("normal", "uniform")})
    # the pixel range of images, which the conf's generator produces and the data is scaled to
    pixel_range: List[float] = field(default_factory=lambda: [-1.0, 1.0],
                                     metadata={"min": -1e6, "max": 1e6, "increasing": True})
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    # PacGAN: D judges this many samples at once, real with real and fake with fake (stacked
    # along an image's channels, a point's features); the batch size must be a multiple of it
    packing: int = field(default=1, metadata={"min": 1, "max": 64})
    ema: EmaSettings = field(default_factory=EmaSettings)  # docs/packing-and-ema.md
    # the step's compute: float32, or bf16 (bfloat16 matrix products and convolutions, float32
    # weights; refused where this Paddle has no bfloat16 kernels: docs/performance.md)
    precision: str = field(default="float32", metadata={"choices": ("float32", "bf16")})
    # everything optional, in the order they run (those that save the state first)
    plugins: List[str] = field(
        default_factory=lambda: ["console", "samples", "visualdl", "metrics", "checkpoint"],
        metadata={"registry": PLUGINS})
    # each plugin's options, by plugin name (below)
    plugin_options: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def resolved_output_dir(self) -> Path:
        """Where the run writes: the output dir, or for a URL its local staging folder."""
        if is_remote(self.output_dir):
            return local_folder(self.output_dir, self.resolved_remote_cache(), "runs")
        return local_path(self.output_dir or f"output/{self.data}")

    def resolved_data_dir(self) -> Path:
        """Where the data is read: the data dir, or for a URL its local cache."""
        if is_remote(self.data_dir):
            return local_folder(self.data_dir, self.resolved_remote_cache(), "data")
        return local_path(self.data_dir or DATA_HOME / f"{self.data}_data")

    def resolved_remote_cache(self) -> Path:
        return local_path(self.remote_cache or DEFAULT_REMOTE_CACHE)

    def optimizer_of(self, network: str) -> OptimizerSettings:
        """The optimiser settings of DIS or GEN."""
        own = self.optimizer_d if network == "dis" else self.optimizer_g
        return own or self.optimizer

    def resolved_conf_path(self) -> Path:
        return builtin_fallback(Path(self.conf))


def _short(value: Any) -> str:
    return shorten(repr(value))


def _check_value(where: str, value: Any, hint: Any, meta: dict) -> Any:
    origin = get_origin(hint)
    if origin is not None and type(None) in get_args(hint):  # Optional[X]
        if value is None:
            return None
        hint = next(a for a in get_args(hint) if a is not type(None))
        origin = get_origin(hint)
    if origin is Union:  # a number, or one of the words the setting takes ("epoch")
        if isinstance(value, str):
            if value not in meta["words"]:
                raise ConfigError(f"{where} must be a number or {' or '.join(meta['words'])}, "
                                  f"got {_short(value)}")
            return value
        hint = int
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {_short(value)}")
        return _build(hint, value, where + ".")
    if origin in (list, List) and get_args(hint) == (float,):
        return _check_range_pair(where, value, meta)
    if origin in (list, List):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of names, got {_short(value)}")
        for name in value:
            if "registry" in meta:
                meta["registry"].check(name, where)
        return list(value)
    if origin in (dict, Dict) and meta.get("free"):  # passed on as it is (storage_options)
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{where} must be a mapping of names, got {_short(value)}")
        return dict(value)
    if origin in (dict, Dict):
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ConfigError(f"{where} must map names to mappings, got {_short(value)}")
        return {k: dict(v) for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            raise ConfigError(f"{where} must be a finite number, got {value}") from None
    if hint is float and isinstance(value, str):
        # PyYAML (YAML 1.1) reads 1e-4 as a string; only 1.0e-4 is a float there.
        try:
            value = float(value)
        except ValueError:
            pass
    if hint is bool and isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        value = bool(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {hint.__name__}, got {_short(value)}")
    if hint is float and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {_short(value)}")
    if "registry" in meta:
        meta["registry"].check(value, where)
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{where} must be one of {', '.join(meta['choices'])}, got "
                          f"{_short(value)}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{where} must be at least {meta['min']}, got {_short(value)}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{where} must be at most {meta['max']}, got {_short(value)}")
    return value


def _check_range_pair(where: str, value: Any, meta: dict) -> List[float]:
    """[low, high]: two finite numbers within the setting's bounds, low below high."""
    if not (isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"{where} must be [low, high], got {_short(value)}")
    low, high = (_check_value(where, float(v), float, meta) for v in value)
    if not low < high:
        raise ConfigError(f"{where} must be [low, high] with low < high, got {_short(value)}")
    return [low, high]


def _build(cls, raw: dict, prefix: str = ""):
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            hint = did_you_mean(key, fields, prefix) or f" (valid: {', '.join(fields)})"
            raise ConfigError(f"unknown setting '{prefix}{shorten(key)}'{hint}")
    values = {
        key: _check_value(prefix + key, value, hints[key], dict(fields[key].metadata))
        for key, value in raw.items()
    }
    return cls(**values)


def settings_from_dict(raw: dict) -> Settings:
    """Validate a merged settings dict into `Settings` (raises ConfigError)."""
    return _build(Settings, raw)


def build_options(cls, raw: dict, plugin: str):
    """Validate one plugin's options (a dataclass of its own) the same way as the settings."""
    return _build(cls, raw or {}, prefix=f"plugin_options.{plugin}.")


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path) -> dict:
    """Read a YAML mapping with the safe loader (Python tags and other objects are refused),
    with bounds: a UTF-8 file of at most MAX_YAML_BYTES, nested no deeper than Python allows."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_YAML_BYTES >> 20} MB: not a run config")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text (byte {err.start}); a run config is YAML "
                          "text") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be a run config") from None
    except yaml.YAMLError as err:
        first_line = str(err).splitlines()[0]
        raise ConfigError(f"{path} is not valid YAML (safe loader): {first_line}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, got {type(data).__name__}")
    return data


def parse_set(item: str) -> dict:
    """`a.b=value` -> {"a": {"b": value}}, the value parsed as YAML (so 3 is int, x is str)."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set takes key=value, got {item!r}")
    try:
        value: Any = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: cannot parse value {text!r}") from None
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


CONF_INTERFACE = ("build_generator", "build_discriminator", "NOISE_DIM")


def conf_error(path, err: Exception) -> ConfigError:
    """One line for an exception raised by a conf module's own code: what, and where in it."""
    if isinstance(err, ConfigError):
        return err
    line = err.lineno if isinstance(err, SyntaxError) else next(
        (frame.lineno for frame in reversed(traceback.extract_tb(err.__traceback__))
         if Path(frame.filename) == Path(path)), None)
    where = f", line {line}" if line else ""
    message = err.msg if isinstance(err, SyntaxError) else err
    return ConfigError(f"conf module {path}{where}: {type(err).__name__}: {message}")


def load_conf_module(path: Path):
    """Import a conf module from its file path (it is the user's own Python, so it runs). The
    same unchanged file is imported once per process: the settings read its DEFAULTS, the run
    builds its networks."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"conf module {path} does not exist")
    return _import_conf(path.resolve(), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _import_conf(path: Path, mtime_ns: int):
    spec = importlib.util.spec_from_file_location(f"paddle_gan_conf_{path.stem}", path)
    if spec is None or spec.loader is None:  # Python imports .py files (and packages) only
        raise ConfigError(f"conf module {path}: not a Python file (a conf module is a .py file)")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's code: any error, reported as one line
        raise conf_error(path, err) from err
    missing = [name for name in CONF_INTERFACE if not hasattr(module, name)]
    if missing:
        raise ConfigError(f"conf module {path} does not define {', '.join(missing)} "
                          f"(a conf module defines {', '.join(CONF_INTERFACE)})")
    for name in ("NOISE_DIM", "NUM_CLASSES"):  # NUM_CLASSES only in a conditional conf
        value = getattr(module, name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1 << 20:
            raise ConfigError(f"conf module {path}: {name} must be a whole number from 1 to "
                              f"{1 << 20}, got {_short(value)}")
    return module


def builtin_fallback(path: Path) -> Path:
    """`path` as given when it exists (from the current folder), else the file of that name
    that ships with paddle_gan (`conf/mnist.yaml`, say), else as given (for its error)."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    shipped = RESOURCES / path
    return shipped if shipped.exists() else path


def resource_path(*parts: str) -> Path:
    """A file that ships with paddle_gan: `resource_path("data", "get_mnist_data.sh")`."""
    return RESOURCES.joinpath(*parts)


def default_config_path(data: str) -> Optional[Path]:
    """conf/<data>.yaml, or None for a data source without one (a user's, say)."""
    path = CONF_DIR / f"{data}.yaml"
    return path if path.is_file() else None


def resolve_settings(
    yaml_path: Optional[Path], sets: List[str], flags: Dict[str, Any], data: Optional[str],
    notes: Optional[List[str]] = None,
) -> Settings:
    """Merge every layer and validate. `data` (the -d flag) picks the default YAML. Surprises
    worth a line in the log (an empty YAML) are appended to `notes`."""
    if yaml_path is None:
        if data is None:
            raise ConfigError(f"say which data to train on: -d {'|'.join(DATASETS.names())} "
                              "or --config")
        DATASETS.check(data, "-d")
        yaml_path = default_config_path(data)
    merged = read_yaml(builtin_fallback(yaml_path)) if yaml_path is not None else {}
    if yaml_path is not None and not merged and notes is not None:
        notes.append(f"note: {yaml_path} holds no settings: everything not given by a flag "
                     "comes from the conf module's defaults")
    for item in sets:
        merged = deep_merge(merged, parse_set(item))
    merged = deep_merge(merged, {k: v for k, v in flags.items() if v is not None})
    if data is not None:
        merged["data"] = data
    conf_path = Settings(conf=str(merged.get("conf", Settings.conf))).resolved_conf_path()
    conf = load_conf_module(conf_path)
    merged = deep_merge(getattr(conf, "DEFAULTS", {}), merged)
    for own in ("optimizer_d", "optimizer_g"):  # a network's optimiser: what differs from both's
        if isinstance(merged.get(own), dict) and isinstance(merged.get("optimizer", {}), dict):
            merged[own] = deep_merge(merged.get("optimizer", {}), merged[own])
    return settings_from_dict(merged)


def settings_to_dict(settings: Settings) -> dict:
    """The settings as plain data, for every place they are written or shown: the values of
    `storage_options` (credentials, often) are masked."""
    settings = dataclasses.replace(settings, storage_options=_masked(settings.storage_options))
    return dataclasses.asdict(settings)


def _masked(options):
    if isinstance(options, dict):
        return {key: _masked(value) for key, value in options.items()}
    return MASK


def dotted(settings: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """{"optimizer": {"beta1": 0.9}} -> {"optimizer.beta1": 0.9}; other values as they are
    (an empty mapping too)."""
    flat: Dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            flat.update(dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def flatten_settings(settings: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Nested settings -> {"optimizer.beta1": 0.5, ...}: what a resume compares and VisualDL's
    hyper-parameter table shows. Lists are joined by commas, booleans become 0/1 (VisualDL takes
    int, float or str), None and empty mappings are dropped."""
    flat: Dict[str, Union[int, float, str]] = {}
    for name, value in dotted(settings, prefix).items():
        if isinstance(value, (list, tuple)):
            flat[name] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            flat[name] = int(value)
        elif isinstance(value, (int, float, str)):
            flat[name] = value
    return flat
