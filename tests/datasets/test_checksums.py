"""Data files held to their checksums: a file of the official size with other bytes is refused
in one line (unless verify_data is off), a verified file is not hashed again until it changes, a
damaged .gz is one line too, and CIFAR-10 files are held to the sums the fetch script recorded."""
import gzip
import json
import struct

import numpy as np
import pytest

from paddle_gan.datasets import checksums, mnist
from paddle_gan.datasets.cifar import OFFICIAL_SIZE, RECORD_BYTES, RECORDED, load_cifar
from paddle_gan.datasets.mnist import load_mnist, read_idx
from paddle_gan.errors import DataError

LABELS = "train-labels-idx1-ubyte"


def official_size_labels(folder, seed=0):
    """A labels file of the official size (60,000 labels) that is not the official file."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.random.default_rng(seed).integers(0, 10, 60_000, dtype=np.uint8)
    path = folder / LABELS
    path.write_bytes(struct.pack(">ii", 2049, 60_000) + labels.tobytes())
    return path


def test_an_official_size_file_with_other_bytes_is_refused_in_one_line(tmp_path):
    path = official_size_labels(tmp_path)
    with pytest.raises(DataError) as raised:
        read_idx(path, mnist.LABELS_MAGIC)
    message = str(raised.value)
    assert "\n" not in message and "is not the official a25bea736e30d166cdddb491f175f624" in message
    assert "get_mnist_data.sh" in message and "verify_data: false" in message
    assert read_idx(path, mnist.LABELS_MAGIC, verify=False).shape == (60_000,)


def test_a_file_of_another_size_is_not_held_to_the_official_sum(tmp_path):
    path = tmp_path / LABELS
    path.write_bytes(struct.pack(">ii", 2049, 5) + bytes([1, 2, 3, 4, 5]))
    assert read_idx(path, mnist.LABELS_MAGIC).tolist() == [1, 2, 3, 4, 5]


def test_a_verified_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    path = official_size_labels(tmp_path)
    # Pretend this file is the official one: its own MD5 is the expected one.
    own = checksums.md5(path.read_bytes())
    monkeypatch.setitem(mnist.OFFICIAL, LABELS, (60_008, own))
    calls = []
    real_md5 = checksums.md5
    monkeypatch.setattr(checksums, "md5", lambda data: calls.append(1) or real_md5(data))
    read_idx(path, mnist.LABELS_MAGIC)
    read_idx(path, mnist.LABELS_MAGIC)
    assert len(calls) == 1
    cache = json.loads((tmp_path / checksums.CACHE_NAME).read_text())
    assert cache[LABELS][0] == 60_008 and cache[LABELS][2] == own
    data = bytearray(path.read_bytes())
    data[-1] = (data[-1] + 1) % 10  # damaged after it was verified: same size, new mtime
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="damaged"):
        read_idx(path, mnist.LABELS_MAGIC)
    assert len(calls) == 2


def test_a_damaged_cache_file_is_ignored(tmp_path):
    path = official_size_labels(tmp_path)
    for junk in (b"[" * 100_000, b"\xff\xfe", b"[]", b'{"x": 1}', b'{"%s": 5}' % LABELS.encode()):
        (tmp_path / checksums.CACHE_NAME).write_bytes(junk)
        with pytest.raises(DataError, match="damaged"):  # verified again, found not official
            read_idx(path, mnist.LABELS_MAGIC)


@pytest.mark.parametrize("damage", ["truncated", "bit flip in the stream", "not gzip"])
def test_a_damaged_gz_is_one_line(tmp_path, damage):
    raw = struct.pack(">ii", 2049, 1000) + bytes(1000)
    packed = bytearray(gzip.compress(raw))
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    elif damage == "bit flip in the stream":
        packed[len(packed) // 2] ^= 0xFF
    else:
        packed = bytearray(b"PK" + bytes(40))
    path = tmp_path / f"{LABELS}.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DataError) as raised:
        read_idx(path, mnist.LABELS_MAGIC)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_cifar_files_are_held_to_the_recorded_sums(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    record = bytes([3]) + bytes(RECORD_BYTES - 1)
    batch = record * (OFFICIAL_SIZE // RECORD_BYTES)
    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(batch)
    sums = {f"data_batch_{i}.bin": checksums.md5(batch) for i in range(1, 6)}
    sums["data_batch_3.bin"] = "0" * 32  # recorded before the file was damaged
    (folder / RECORDED).write_text("".join(f"{md5}  {name}\n" for name, md5 in sums.items()))
    with pytest.raises(DataError, match="data_batch_3.bin: MD5 .* is not the official 0{32}"):
        load_cifar(tmp_path, "train")
    assert len(load_cifar(tmp_path, "train", verify=False)) == 50_000


def test_verify_data_false_trains_on_an_official_size_file_of_other_bytes(tmp_path):
    official_size_labels(tmp_path)
    images = np.zeros((60_000, 28, 28), np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(
        struct.pack(">iiii", 2051, 60_000, 28, 28) + images.tobytes())
    with pytest.raises(DataError, match="not the official"):
        load_mnist(tmp_path, "train")
    assert len(load_mnist(tmp_path, "train", verify=False)) == 60_000
