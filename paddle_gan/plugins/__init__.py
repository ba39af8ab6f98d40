"""Plugins: everything optional a run does (print, draw, log, measure, checkpoint).

`build_plugins` turns the settings' plugin names and options into instances, through the one
registry (paddle_gan.registry.PLUGINS: the built-ins and the `paddle_gan.plugins` entry points).
"""
from __future__ import annotations

from typing import Dict, List

from ..config import build_options
from ..registry import PLUGINS
from .base import Plugin


def build_plugins(names: List[str], options: Dict[str, dict], is_writer: bool) -> List[Plugin]:
    """The named plugins with their validated options, those that save the state first; plugins
    that write files only on the writer (rank 0)."""
    for name in options:  # options of a plugin not listed are checked too: a typo stays a typo
        PLUGINS.check(name, "plugin_options")
        build_options(PLUGINS.get(name).Options, options[name], name)
    plugins = []
    for name in names:
        cls = PLUGINS.get(name)
        if is_writer or not cls.writes_files:
            plugin = cls(build_options(cls.Options, options.get(name, {}), name))
            plugin.name = name
            plugins.append(plugin)
    return sorted(plugins, key=lambda plugin: not plugin.saves_state)  # stable: YAML order
