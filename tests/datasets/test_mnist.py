"""The MNIST IDX reader: a tiny well-formed set it loads, each malformed file it must reject with a
DataError naming the file and what was expected, and the real test split when it is on disk."""
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from paddle_gan.datasets.mnist import load_mnist, read_idx
from paddle_gan.errors import DataError

REPO = Path(__file__).resolve().parents[2]
REAL_MNIST = next(
    (p for p in (REPO.parent / "shared/data/mnist", Path("/work/shared/data/mnist")) if p.is_dir()),
    None,
)
IMAGES, LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def write_idx(path, magic, dims, body, compress=False):
    data = struct.pack(f">i{len(dims)}I", magic, *dims) + bytes(body)
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_set(folder, count=3, compress=False):
    """A valid split of `count` images whose pixels are i, i+1, ... (mod 256)."""
    pixels = (np.arange(count * 28 * 28) % 256).astype(np.uint8)
    labels = (np.arange(count) % 10).astype(np.uint8)
    write_idx(folder / IMAGES, 2051, (count, 28, 28), pixels.tobytes(), compress)
    write_idx(folder / LABELS, 2049, (count,), labels.tobytes(), compress)
    return pixels, labels


def test_loads_a_valid_split(tmp_path):
    pixels, labels = write_set(tmp_path)
    data = load_mnist(tmp_path, "test")
    assert data.name == "mnist" and data.pixel_range == (-1.0, 1.0)
    assert data.samples.shape == (3, 1, 28, 28) and data.samples.dtype == np.float32
    assert data.labels.dtype == np.int64 and data.labels.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(data.samples.ravel(), pixels / np.float32(127.5) - 1)
    # The two ends of the byte range land exactly on the ends of [-1, 1].
    assert data.samples.min() == -1.0 and data.samples.max() == 1.0


def test_reads_gz_and_prefers_uncompressed(tmp_path):
    write_set(tmp_path, count=2, compress=True)
    assert len(load_mnist(tmp_path, "test")) == 2
    write_set(tmp_path, count=4)
    assert len(load_mnist(tmp_path, "test")) == 4


def test_train_split_uses_train_files(tmp_path):
    write_set(tmp_path)  # only the t10k files
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, "train")


def test_missing_file_names_it_and_the_script(tmp_path):
    write_idx(tmp_path / IMAGES, 2051, (1, 28, 28), bytes(784))
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path, "test")
    assert LABELS in str(error.value) and "bash data/get_mnist_data.sh" in str(error.value)


def test_unknown_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("/nonexistent", "validation")


def _labels_magic_in_images(d):
    write_idx(d / IMAGES, 2049, (784,), bytes(784))


def _images_magic_in_labels(d):
    write_idx(d / LABELS, 2051, (1, 1, 1), bytes(1))


def _wrong_size(d):
    write_idx(d / IMAGES, 2051, (3, 28, 27), bytes(3 * 28 * 27))


def _short_body(d):
    write_idx(d / IMAGES, 2051, (3, 28, 28), bytes(3 * 784 - 1))


def _long_body(d):
    write_idx(d / LABELS, 2049, (3,), bytes(4))


def _cut_header(d):
    (d / IMAGES).write_bytes(struct.pack(">ii", 2051, 3))


def _count_mismatch(d):
    write_idx(d / LABELS, 2049, (2,), bytes(2))


def _label_out_of_range(d):
    write_idx(d / LABELS, 2049, (3,), bytes([1, 10, 2]))


def _empty_set(d):
    write_idx(d / IMAGES, 2051, (0, 28, 28), b"")
    write_idx(d / LABELS, 2049, (0,), b"")


def _bad_gzip(d):
    (d / IMAGES).unlink()
    (d / f"{IMAGES}.gz").write_bytes(gzip.compress(bytes(100))[:20])


@pytest.mark.parametrize(
    "damage, file, expected",
    [
        (_labels_magic_in_images, IMAGES, "magic number 2049, expected 2051"),
        (_images_magic_in_labels, LABELS, "magic number 2051, expected 2049"),
        (_wrong_size, IMAGES, "28x27, expected 28x28"),
        (_short_body, IMAGES, "shorter than the 2352 bytes"),
        (_long_body, LABELS, "longer than the 3 bytes"),
        (_cut_header, IMAGES, "too short for the 16-byte IDX header"),
        (_count_mismatch, LABELS, "3 images but .* holds 2 labels"),
        (_label_out_of_range, LABELS, "label 10 at index 1, expected 0..9"),
        (_empty_set, IMAGES, "holds no images"),
        (_bad_gzip, f"{IMAGES}.gz", "not a readable gzip file"),
    ],
)
def test_malformed_file_is_a_data_error(tmp_path, damage, file, expected):
    write_set(tmp_path)
    damage(tmp_path)
    with pytest.raises(DataError, match=expected) as error:
        load_mnist(tmp_path, "test")
    assert str(tmp_path / file) in str(error.value)


def test_read_idx_returns_header_shape(tmp_path):
    path = write_idx(tmp_path / "x", 2051, (2, 3, 4), range(24))
    array = read_idx(path, 2051)
    assert array.shape == (2, 3, 4) and array[1, 2, 3] == 23


@pytest.mark.skipif(REAL_MNIST is None, reason="no offline copy of MNIST on this machine")
def test_real_test_split():
    data = load_mnist(REAL_MNIST, "test")  # the .gz files, read directly
    assert data.samples.shape == (10000, 1, 28, 28) and data.samples.dtype == np.float32
    assert data.samples.min() == -1.0 and data.samples.max() == 1.0
    assert data.labels.dtype == np.int64
    # The well-known class counts of the MNIST test set.
    expected = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(data.labels).tolist() == expected
