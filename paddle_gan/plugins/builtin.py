"""Explicit imports of the built-in plugins: importing a module registers its plugin."""
from . import checkpoint, console, metrics, samples, visualdl  # noqa: F401
