"""MNIST from its IDX files: the reader and its checks, and `load_mnist`, which turns one split into
an `ArrayDataset` of 1x28x28 float32 images in the conf's pixel range ([-1, 1] unless it says
otherwise) with their int64 labels. Each file is
checked against its own header (magic number, dimensions, body length), against the official MD5
when it has the official size (`checksums`), and the images against their labels; every failure
is a `DataError` naming the file and what was expected, because a damaged download must stop a
run with a clear line rather than train on garbage. Uncompressed files are preferred; the .gz the
mirrors serve are read when they are all there is.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Union

import numpy as np

from ..errors import DataError
from . import checksums
from .base import ArrayDataset, check_memory

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_SIZE = (28, 28)
NUM_CLASSES = 10
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SCRIPT = "bash data/get_mnist_data.sh"
# (size, MD5) of each official file, uncompressed: what data/get_mnist_data.sh checks too
OFFICIAL = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}
MAX_FILE_BYTES = 2 * OFFICIAL["train-images-idx3-ubyte"][0]  # bounds what a .gz may expand to


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix != ".gz":
            return path.read_bytes()
        with gzip.open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as error:  # a damaged .gz fails in any of these ways
        what = "gzip file" if path.suffix == ".gz" else "file"
        raise DataError(f"{path}: not a readable {what} ({error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise DataError(f"{path}: expands to more than {MAX_FILE_BYTES >> 20} MB: not MNIST")
    return data


def read_idx(path: Union[str, Path], magic: int, verify: bool = True) -> np.ndarray:
    """The uint8 array of an IDX file whose magic number must be `magic`; shape from its header.
    `verify`: hold a file of an official name and size to the official MD5."""
    path = Path(path)
    data = _read_bytes(path)
    size, official_md5 = OFFICIAL.get(path.name.removesuffix(".gz"), (None, None))
    if verify:
        checksums.verify(path, data, size, official_md5, SCRIPT)
    ndim = magic & 0xFF  # the low byte of the magic number is the number of dimensions
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{path}: {len(data)} bytes, too short for the {header}-byte IDX header expected"
        )
    (found,) = struct.unpack(">i", data[:4])
    if found != magic:
        raise DataError(f"{path}: IDX magic number {found}, expected {magic}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    body = len(data) - header
    if body != expected:
        relation = "shorter" if body < expected else "longer"
        shape = "x".join(map(str, dims))
        raise DataError(
            f"{path}: body of {body} bytes is {relation} than the {expected} bytes its header "
            f"promises ({shape}); the file is damaged, fetch it again with `{SCRIPT}`"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find(data_dir: Path, name: str) -> Path:
    for path in (data_dir / name, data_dir / f"{name}.gz"):
        if path.is_file():
            return path
    raise DataError(f"MNIST file missing: {data_dir / name} (or .gz); run "
                    f"`MNIST_DIR={data_dir} {SCRIPT}` or add --download")


def load_mnist(data_dir: Union[str, Path], split: str = "train", verify: bool = True,
               pixel_range=(-1.0, 1.0)) -> ArrayDataset:
    """One split ("train" or "test", the t10k files) of MNIST in `data_dir`, pixels scaled from
    0..255 to `pixel_range`."""
    if split not in FILES:
        raise ValueError(f"unknown MNIST split {split!r}; expected one of {sorted(FILES)}")
    data_dir = Path(data_dir)
    images_name, labels_name = FILES[split]
    images_path, labels_path = _find(data_dir, images_name), _find(data_dir, labels_name)

    images = read_idx(images_path, IMAGES_MAGIC, verify)
    if images.shape[1:] != IMAGE_SIZE:
        raise DataError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
            f"expected {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}"
        )
    labels = read_idx(labels_path, LABELS_MAGIC, verify)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; expected the same count"
        )
    if len(labels) == 0:
        raise DataError(f"{images_path}: holds no images, expected at least one")
    if labels.max() >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise DataError(
            f"{labels_path}: label {labels[bad]} at index {bad}, expected 0..{NUM_CLASSES - 1}"
        )

    check_memory(images.size * 4, f"MNIST {split} ({len(images)} float32 images)")
    low, high = pixel_range
    samples = images.reshape(len(images), 1, *IMAGE_SIZE).astype(np.float32)
    samples /= 255.0 / (high - low)  # for [-1, 1]: / 127.5, then - 1, as ever
    samples += low
    return ArrayDataset("mnist", samples, labels.astype(np.int64),
                        pixel_range=(float(low), float(high)))


def load(settings) -> ArrayDataset:
    """The `mnist` data source: the training split in `settings.data_dir`."""
    return load_mnist(settings.resolved_data_dir(), "train", settings.verify_data,
                      settings.pixel_range)


def load_test(settings) -> ArrayDataset:
    """The test split in `settings.data_dir` (what the `history` plugin measures on)."""
    return load_mnist(settings.resolved_data_dir(), "test", settings.verify_data,
                      settings.pixel_range)
