"""Checksums of data files: the official ones we know, and verification cached next to the data.

MNIST's official MD5s (of the uncompressed files, as data/get_mnist_data.sh checks them) are
known here. CIFAR-10 publishes only its archive's MD5, which data/get_cifar_data.sh checks; it
then records the MD5 of each file it extracted in `.checksums.md5` beside them, and those are
the sums the reader holds the files to (files placed by hand have none, and are not verified).

A file is verified only when it has the official size: a file of another size is not the
official one (a subset, a test fixture), and the readers' format checks apply to it as to any.
A verified file is remembered in `.paddle_gan-verified.json` in its folder by name, size and
modification time, so the MD5 is computed once per file, not once per run (a read-only data
folder just means it is computed each time).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Union, cast

from ..errors import DataError

if TYPE_CHECKING:
    import numpy as np

CACHE_NAME = ".paddle_gan-verified.json"
MAX_CACHE_BYTES = 1 << 16
Data = Union[bytes, "np.ndarray"]  # a file's contents: bytes, or uint8 as NumPy read them


def md5(data: Data) -> str:
    # hashlib reads any buffer; NumPy's stub gives ndarray the buffer protocol from Python 3.12
    return hashlib.md5(cast(bytes, data), usedforsecurity=False).hexdigest()


def verify(path: Path, data: Data, official_size: Optional[int], expected_md5: Optional[str],
           refetch: str) -> None:
    """DataError unless `data` (the contents of `path`, uncompressed) is the official file:
    checked when it has the official size and an expected MD5 is known."""
    if expected_md5 is None or len(data) != official_size:
        return
    path = Path(path)
    cache = _read_cache(path.parent)
    stamp = _stamp(path)
    if stamp is not None and cache.get(path.name) == [*stamp, expected_md5]:
        return
    got = md5(data)
    if got != expected_md5:
        raise DataError(f"{path}: MD5 {got} is not the official {expected_md5} (same size, other "
                        f"bytes): the file is damaged; fetch it again with `{refetch}`, or set "
                        "verify_data: false to train on another data set in this format")
    if stamp is not None:
        cache[path.name] = [*stamp, expected_md5]
        _write_cache(path.parent, cache)


def read_md5sums(path: Path) -> Dict[str, str]:
    """`md5sum`-format lines ("<md5>  <name>") -> {name: md5}; {} when missing or unreadable."""
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_CACHE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    sums = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 32 and name:
            sums[name.strip()] = digest.lower()
    return sums


def _stamp(path: Path):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _read_cache(folder: Path) -> dict:
    try:
        with open(folder / CACHE_NAME, "rb") as f:
            cache = json.loads(f.read(MAX_CACHE_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}  # missing or damaged: verify again, rewrite it
    return cache if isinstance(cache, dict) else {}


def _write_cache(folder: Path, cache: dict) -> None:
    try:
        tmp = folder / f".{CACHE_NAME}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(cache, indent=1))
        os.replace(tmp, folder / CACHE_NAME)
    except OSError:
        pass  # a read-only data folder: the check runs again next time, nothing is lost
