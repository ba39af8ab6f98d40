"""One small registry: name -> factory, one per kind of extension point, and the built-ins.

Plugins, data sources, schedulers and execution paths are all found the same way. The built-ins
are listed below as "module:attribute" and imported only when used (so `--help` can list every
name without importing Paddle); a user's package adds its own under the kind's entry-point
group, for example in its pyproject.toml:

    [project.entry-points."paddle_gan.datasets"]
    my_points = "my_package.data:load_points"

and code (a test, a notebook) adds one in-process with `@DATASETS.register("my_points")`. A name
is unique within its kind: two entries of one name are an error saying where both come from; an
unknown name is an error that suggests the closest one and lists what exists.

What each kind's factory is:
- plugin (`paddle_gan.plugins`): a `paddle_gan.plugins.base.Plugin` subclass with an `Options`
  dataclass; the run calls it with the validated options.
- data source (`paddle_gan.datasets`): a function (Settings) -> `ArrayDataset`, the training split;
  its module may define `load_test(settings)`, the test split (the `history` plugin's).
- scheduler (`paddle_gan.schedulers`): a function (SchedulerSettings) -> a scheduler, an object
  with `choose(d_loss, g_loss) -> DIS | GEN`, `strike`, `state_dict()`, `load_state_dict()`, and
  optionally `pick_ahead() -> DIS | GEN | None` (a pick the losses cannot change, made before the
  forwards: see `paddle_gan.scheduler`).
- execution path (`paddle_gan.executions`): a function (Networks, Objective, RandomStream) -> a step
  with the methods of `paddle_gan.step.GanStep` (`to_device`, `forward(real, noise, labels,
  planned)`, `train`).
- loss (`paddle_gan.losses`): a `paddle_gan.losses.Loss` subclass, called with LossSettings.
- optimiser (`paddle_gan.optimizers`): a function (OptimizerSettings, parameters) -> a Paddle
  optimizer.
"""
from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from typing import Callable, Dict, List

from .errors import ConfigError, did_you_mean, shorten


class Registry:
    """Names of one kind (say "data source") -> the factory each stands for."""

    def __init__(self, kind: str, group: str, builtins: Dict[str, str]):
        self.kind, self.group = kind, group
        self._builtins = dict(builtins)  # name -> "module:attribute"
        self._added: Dict[str, object] = {}

    def register(self, name: str) -> Callable:
        """Decorator: make the decorated factory available under `name`."""

        def add(factory):
            if self._added.get(name, factory) is not factory or name in self._targets():
                raise ConfigError(f"two {self.kind}s named '{name}': "
                                  f"{self._origin(name)} and {_describe(factory)}")
            self._added[name] = factory
            return factory

        return add

    def _targets(self) -> Dict[str, str]:
        """Built-ins and entry points by name ("module:attribute"); a name in both is an error.
        Entry points are read each time (3 ms), so a package installed meanwhile is seen."""
        # Python 3.9's entry_points() is a dict by group; 3.10 added select()
        if sys.version_info >= (3, 10):
            group = entry_points().select(group=self.group)
        else:
            group = entry_points().get(self.group, [])
        installed = {ep.name: ep.value for ep in group}
        clash = sorted(self._builtins.keys() & installed.keys())
        if clash:
            name = clash[0]
            raise ConfigError(f"two {self.kind}s named '{name}': the built-in "
                              f"{self._builtins[name]} and the entry point {installed[name]} "
                              f"(group {self.group})")
        return {**self._builtins, **installed}

    def _origin(self, name: str) -> str:
        targets = self._targets()
        return targets[name] if name in targets else _describe(self._added.get(name))

    def names(self) -> List[str]:
        return sorted(self._targets().keys() | self._added.keys())

    def builtin_names(self) -> List[str]:
        """The names that ship with paddle_gan (what its docs describe)."""
        return sorted(self._builtins)

    def check(self, name: str, where: str = "") -> None:
        """Raise ConfigError unless `name` is registered."""
        names = self.names()
        if name not in names:
            what = f"{where}: " if where else ""
            raise ConfigError(f"{what}unknown {self.kind} '{shorten(name)}'"
                              f"{did_you_mean(name, names)}; available: {', '.join(names)}")

    def get(self, name: str):
        """The factory registered as `name` (imported on first use)."""
        self.check(name)
        if name in self._added:
            return self._added[name]
        target = self._targets()[name]
        module_name, _, attribute = target.partition(":")
        try:
            found = importlib.import_module(module_name)
            for part in attribute.split("."):
                found = getattr(found, part)
        except Exception as err:  # a user's package may fail in any way; say which and why
            raise ConfigError(f"cannot load {self.kind} '{name}' from {target}: "
                              f"{type(err).__name__}: {err}") from err
        return found


def _describe(factory) -> str:
    module = getattr(factory, "__module__", "?")
    return f"{module}:{getattr(factory, '__qualname__', repr(factory))}"


PLUGINS = Registry(
    "plugin", "paddle_gan.plugins",
    {
        "console": "paddle_gan.plugins.console:ConsolePlugin",
        "samples": "paddle_gan.plugins.samples:SamplesPlugin",
        "visualdl": "paddle_gan.plugins.visualdl:VisualDLPlugin",
        "metrics": "paddle_gan.plugins.metrics:MetricsPlugin",
        "checkpoint": "paddle_gan.plugins.checkpoint:CheckpointPlugin",
        "history": "paddle_gan.plugins.history:HistoryPlugin",
    },
)
DATASETS = Registry(
    "data source", "paddle_gan.datasets",
    {
        "uniform": "paddle_gan.datasets.uniform:load",
        "ring": "paddle_gan.datasets.ring:load",
        "grid": "paddle_gan.datasets.grid:load",
        "mnist": "paddle_gan.datasets.mnist:load",
        "cifar": "paddle_gan.datasets.cifar:load",
    },
)
SCHEDULERS = Registry(
    "scheduler", "paddle_gan.schedulers",
    {
        "loss_based": "paddle_gan.scheduler:LossBased.from_settings",
        "alternate": "paddle_gan.scheduler:Alternate.from_settings",
    },
)
EXECUTIONS = Registry(
    "execution path", "paddle_gan.executions",
    {
        "fast": "paddle_gan.step:build_fast_step",
        "plain": "paddle_gan.step:GanStep",
    },
)
LOSSES = Registry(
    "loss", "paddle_gan.losses",
    {
        "v1": "paddle_gan.losses:V1",
        "minimax": "paddle_gan.losses:Minimax",
        "non_saturating": "paddle_gan.losses:NonSaturating",
        "lsgan": "paddle_gan.losses:LeastSquares",
        "hinge": "paddle_gan.losses:Hinge",
        "wgan_gp": "paddle_gan.losses:WassersteinGP",
    },
)
OPTIMIZERS = Registry(
    "optimiser", "paddle_gan.optimizers",
    {
        "adam": "paddle_gan.optimizers:adam",
        "rmsprop": "paddle_gan.optimizers:rmsprop",
        "sgd": "paddle_gan.optimizers:sgd",
    },
)
