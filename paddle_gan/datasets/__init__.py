"""The data sources by name: `uniform` (built in), `mnist` and `cifar` (read from disk)."""
from __future__ import annotations

from .base import ArrayDataset, BatchSampler, DataError  # noqa: F401


def load_dataset(settings) -> ArrayDataset:
    """The training split of `settings.data` (raises DataError naming the fix)."""
    if settings.data == "uniform":
        from .uniform import load_uniform

        return load_uniform(settings.data_size, settings.seed)
    if settings.data == "mnist":
        from .mnist import load_mnist

        return load_mnist(settings.resolved_data_dir(), "train")
    if settings.data == "cifar":
        from .cifar import load_cifar

        return load_cifar(settings.resolved_data_dir(), "train")
    raise DataError(f"unknown data source '{settings.data}'")
