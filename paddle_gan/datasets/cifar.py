"""CIFAR-10 from its *binary* batches (the pickled version is never loaded): `load_cifar` reads
data_batch_1..5.bin or test_batch.bin into an `ArrayDataset` of 3x32x32 float32 images in the
conf's pixel range ([-1, 1] unless it says otherwise) with int64 labels. Each file must be a
whole number of 3073-byte records (one label byte, then 3072 pixel bytes in CHW order: 1024 red,
1024 green, 1024 blue) with labels in 0..9; any other file is a `DataError` that names it and
what was expected.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from ..errors import DataError
from . import checksums
from .base import ArrayDataset, check_memory

IMAGE_SHAPE = (3, 32, 32)
PIXEL_BYTES = 3 * 32 * 32
RECORD_BYTES = 1 + PIXEL_BYTES
NUM_CLASSES = 10
FILES = {
    "train": [f"data_batch_{i}.bin" for i in range(1, 6)],
    "test": ["test_batch.bin"],
}
SUBDIR = "cifar-10-batches-bin"  # what the archive extracts to
SCRIPT = "bash data/get_cifar_data.sh"
OFFICIAL_SIZE = 10_000 * RECORD_BYTES  # every batch file holds 10,000 records
RECORDED = ".checksums.md5"  # written by the script from the MD5-checked archive


def read_batch(path: Union[str, Path],
               expected_md5: Optional[str] = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, 3, 32, 32], uint8 labels [N]) of one binary batch file, held to
    `expected_md5` when it has the official size."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    checksums.verify(path, data, OFFICIAL_SIZE, expected_md5, SCRIPT)
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise DataError(
            f"{path}: {len(data)} bytes is not a whole, non-zero number of {RECORD_BYTES}-byte "
            f"records (1 label byte + {PIXEL_BYTES} pixel bytes); the file is damaged or not a "
            f"CIFAR-10 binary batch, fetch it again with `{SCRIPT}`"
        )
    records = data.reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    if labels.max() >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise DataError(
            f"{path}: label {labels[bad]} in record {bad}, expected 0..{NUM_CLASSES - 1}; "
            "not a CIFAR-10 binary batch"
        )
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE), labels


def _find(data_dir: Path, names: List[str]) -> List[Path]:
    # The files may sit in data_dir itself or in the folder the archive extracts to.
    folders = (data_dir, data_dir / SUBDIR)
    for folder in folders:
        if all((folder / name).is_file() for name in names):
            return [folder / name for name in names]
    missing = [name for name in names if not any((f / name).is_file() for f in folders)]
    missing = missing or names  # present, but split over both folders
    raise DataError(
        f"CIFAR-10 file(s) missing: {', '.join(missing)} (looked in {data_dir} and "
        f"{data_dir / SUBDIR}); run `CIFAR_DIR={data_dir} {SCRIPT}` or add --download"
    )


def load_cifar(data_dir: Union[str, Path], split: str = "train", verify: bool = True,
               pixel_range=(-1.0, 1.0)) -> ArrayDataset:
    """One split ("train": data_batch_1..5, or "test": test_batch) of CIFAR-10 in `data_dir`,
    pixels scaled from 0..255 to `pixel_range`."""
    if split not in FILES:
        raise ValueError(f"unknown CIFAR-10 split {split!r}; expected one of {sorted(FILES)}")
    paths = _find(Path(data_dir), FILES[split])
    recorded = checksums.read_md5sums(paths[0].parent / RECORDED) if verify else {}
    batches = [read_batch(path, recorded.get(path.name)) for path in paths]
    count = sum(len(labels) for _, labels in batches)
    check_memory(count * PIXEL_BYTES * 4, f"CIFAR-10 {split} ({count} float32 images)")
    # Every file is checked before the 600 MB float32 array is made; it is filled in place, so
    # there is no concatenated uint8 copy and no float64 temporary.
    low, high = pixel_range
    samples = np.empty((count, *IMAGE_SHAPE), dtype=np.float32)
    labels = np.empty(count, dtype=np.int64)
    start = 0
    for images, batch_labels in batches:
        end = start + len(batch_labels)
        np.divide(images, 255.0 / (high - low), out=samples[start:end], dtype=np.float32)
        labels[start:end] = batch_labels
        start = end
    samples += low  # for [-1, 1]: / 127.5, then - 1, as ever
    return ArrayDataset("cifar", samples, labels, pixel_range=(float(low), float(high)))


def load(settings) -> ArrayDataset:
    """The `cifar` data source: the training split in `settings.data_dir`."""
    return load_cifar(settings.resolved_data_dir(), "train", settings.verify_data,
                      settings.pixel_range)


def load_test(settings) -> ArrayDataset:
    """The test split in `settings.data_dir` (what the `history` plugin measures on)."""
    return load_cifar(settings.resolved_data_dir(), "test", settings.verify_data,
                      settings.pixel_range)
