"""The plugin registry: built-in plugins by explicit import, others by entry point.

A user's package adds a plugin without touching this repo by declaring it in the
`paddle_gan.plugins` entry-point group (`name = package.module:PluginClass`). Names are unique:
registering one twice is an error, and asking for a missing one lists what exists.
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Dict, List, Type

from ..config import ConfigError, _suggest, build_options
from .base import Plugin

ENTRY_POINT_GROUP = "paddle_gan.plugins"
_PLUGINS: Dict[str, Type[Plugin]] = {}
LAST = ("checkpoint",)  # run after every other plugin, whatever order the YAML gives


def register(cls: Type[Plugin]) -> Type[Plugin]:
    """Class decorator: make `cls` available under `cls.name`."""
    if cls.name in _PLUGINS and _PLUGINS[cls.name] is not cls:
        raise ValueError(f"a plugin named '{cls.name}' is already registered")
    _PLUGINS[cls.name] = cls
    return cls


def _load_entry_points() -> None:
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in _PLUGINS:
            cls = entry.load()
            cls.name = entry.name
            register(cls)


def available() -> List[str]:
    from . import builtin  # noqa: F401  (explicit imports fill the registry)

    _load_entry_points()
    return sorted(_PLUGINS)


def build_plugins(names: List[str], options: Dict[str, dict], is_writer: bool) -> List[Plugin]:
    """Instantiate the named plugins with their validated options; file writers on rank 0 only."""
    known = available()
    for name in list(names) + list(options):
        if name not in known:
            raise ConfigError(
                f"unknown plugin '{name}'{_suggest(name, known)}; available: {', '.join(known)}"
            )
    ordered = [n for n in names if n not in LAST] + [n for n in names if n in LAST]
    plugins = []
    for name in ordered:
        cls = _PLUGINS[name]
        if is_writer or not getattr(cls, "writes_files", True):
            plugins.append(cls(build_options(cls.Options, options.get(name, {}), name)))
    return plugins
