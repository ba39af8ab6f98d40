"""Opening a checkpoint for the tools: find it from what the user named, rebuild its generator.

tools/generate.py, export.py and evaluate.py all start with `open_checkpoint`. A source is a
checkpoint folder, a checkpoints folder or a run's output dir (then the newest valid checkpoint,
or with `pass_id` the one saved at the end of that pass), on this machine or on a store (a URL:
its complete checkpoints are fetched into the local cache first, `mirror.fetch_checkpoints`).
The generator is rebuilt from the conf module the checkpoint's settings name and loaded with its
saved weights; every problem is a one-line `UsageError` (a CheckpointError, ConfigError or
DeviceError).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from .. import storage
from ..config import Settings, load_conf_module, settings_from_dict
from ..errors import CheckpointError, ConfigError
from ..noise import class_grid_labels
from ..runtime import select_device
from .files import MANIFEST, list_checkpoints, load_checkpoint, newest_valid
from .train_state import FORMAT, MALFORMED, READABLE_FORMATS, check_fixed_noise, load_tensors

if TYPE_CHECKING:
    from ..networks import Generator

DATA_KEYS = ("data", "data_dir", "ring", "grid")


@dataclass
class Loaded:
    path: Path  # the checkpoint folder
    generator: Optional[Generator]  # in eval mode (None only inside load_generator)
    meta: dict
    fixed_noise: np.ndarray

    @property
    def noise_dim(self) -> int:
        return int(self.meta["sample"]["noise_dim"])

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.meta["sample"]["shape"])

    @property
    def noise_distribution(self) -> str:
        """The noise the generator was trained on (checkpoints from before it was a setting:
        standard normal, the only one then)."""
        return self.meta["sample"].get("noise", "normal")

    @property
    def num_classes(self) -> int:
        """A conditional generator's classes; 0 for an unconditional one (and checkpoints from
        before there were conditional ones)."""
        return int(self.meta["sample"].get("num_classes", 0))

    @property
    def fixed_labels(self) -> Optional[np.ndarray]:
        """The classes of the fixed noise's pictures (row c = class c); None if unconditional."""
        if not self.num_classes:
            return None
        return class_grid_labels(self.num_classes, len(self.fixed_noise))

    @property
    def pixel_range(self):
        rng = self.meta["sample"]["pixel_range"]
        return tuple(rng) if rng else None

    @property
    def conf_path(self) -> Path:
        return Settings(conf=self.meta["settings"]["conf"]).resolved_conf_path()

    @property
    def data_settings(self) -> Settings:
        """What the run trained on (source, folder, a 2-D source's layout) as validated settings,
        the rest defaults: what the metrics and pictures of the tools need to know."""
        saved = self.meta["settings"]
        try:
            return settings_from_dict({key: saved[key] for key in DATA_KEYS if key in saved})
        except ConfigError as err:
            raise CheckpointError(f"{self.path}: its settings: {err}") from None


def _pass_of(path: Path) -> int:
    match = re.search(r"-pass-(\d+)$", path.name)
    return int(match.group(1)) if match else -1


def find_checkpoint(source, pass_id: Optional[int] = None, warn=print) -> Tuple[Path, dict, dict]:
    """(path, arrays, meta) of the checkpoint `source` names (see the module docstring)."""
    if storage.is_remote(source):
        from ..mirror import fetch_checkpoints

        source = fetch_checkpoints(str(source), Settings().resolved_remote_cache())
    source = storage.local_path(source)
    if (source / MANIFEST).is_file():
        return (source, *load_checkpoint(source))
    if not source.exists():
        raise CheckpointError(f"{source}: no such checkpoint, checkpoints folder or run dir")
    directory = source / "checkpoints" if (source / "checkpoints").is_dir() else source
    if pass_id is None:
        return newest_valid(directory, warn=warn)
    for path in reversed([p for p in list_checkpoints(directory) if _pass_of(p) == pass_id]):
        arrays, meta = load_checkpoint(path)
        if meta.get("saved_at", {}).get("pass_end"):
            return path, arrays, meta
    kept = ", ".join(p.name for p in list_checkpoints(directory)) or "none"
    raise CheckpointError(f"{directory}: no checkpoint saved at the end of pass {pass_id} "
                          f"(kept: {kept}; plugin_options.checkpoint.keep_last keeps more)")


def load_generator(path: Path, arrays: dict, meta: dict) -> Loaded:
    """Rebuild the inference generator of a loaded checkpoint from its conf module and weights."""
    from ..networks import Generator, build_from_conf

    if meta.get("format") not in READABLE_FORMATS:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint")
    try:
        loaded = Loaded(path, None, meta, arrays["fixed_noise"])
        _check_for_tools(loaded)
    except MALFORMED as e:
        raise CheckpointError(f"{path}: incomplete checkpoint ({type(e).__name__}: {e})") from None
    conf = load_conf_module(loaded.conf_path)
    generator = Generator(build_from_conf(conf, "build_generator", loaded.sample_shape))
    load_tensors(generator, arrays, "net/generator/", path)
    generator.eval()
    loaded.generator = generator
    return loaded


def _check_for_tools(loaded: Loaded) -> None:
    """Everything of the meta the tools read, of the right kinds (a hand-made or damaged
    checkpoint would otherwise fail later, in the middle of a tool)."""
    saved_at, settings = loaded.meta["saved_at"], loaded.meta["settings"]
    for key in ("pass_id", "global_step"):
        if isinstance(saved_at[key], bool) or not isinstance(saved_at[key], int):
            raise TypeError(f"saved_at.{key} is not an integer")
    if not (isinstance(settings["conf"], str) and isinstance(settings["data"], str)):
        raise TypeError("settings.conf and settings.data must be strings")
    shape = loaded.sample_shape
    if not 0 < loaded.noise_dim < 1 << 20 or not shape or not all(
            isinstance(n, int) and 0 < n < 1 << 16 for n in shape):
        raise ValueError(f"sample noise_dim {loaded.noise_dim} or shape {list(shape)}")
    if loaded.pixel_range is not None and len(loaded.pixel_range) != 2:
        raise ValueError(f"pixel_range {loaded.pixel_range}")
    if loaded.noise_distribution not in ("normal", "uniform"):
        raise ValueError(f"noise {loaded.noise_distribution!r}")
    classes = loaded.meta["sample"].get("num_classes", 0)
    if isinstance(classes, bool) or not isinstance(classes, int) or not 0 <= classes <= 1 << 20:
        raise ValueError(f"sample num_classes {classes!r}")
    check_fixed_noise(loaded.fixed_noise, loaded.noise_dim, classes)


def open_checkpoint(source, pass_id: Optional[int] = None,
                    use_gpu: Optional[bool] = None) -> Loaded:
    """The tools' common start: select the device (`use_gpu` as in `runtime.select_device`), find
    the checkpoint `source` names and load its generator. Raises a UsageError."""
    select_device(use_gpu, 0)
    # an unusable newer checkpoint is skipped; the person running the tool should hear of it
    found = find_checkpoint(source, pass_id, warn=lambda message: print(f"warning: {message}"))
    return load_generator(*found)
