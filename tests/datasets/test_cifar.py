"""The CIFAR-10 binary-batch reader: tiny batches it loads (from the data folder or the folder the
archive extracts to), with the CHW pixel order kept, and each malformed file it must reject with a
DataError naming the file and what was expected."""
import numpy as np
import pytest

from paddle_gan.datasets.cifar import load_cifar
from paddle_gan.errors import DataError

TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]


def record(label, red=0, green=0, blue=0):
    return bytes([label]) + bytes([red] * 1024 + [green] * 1024 + [blue] * 1024)


def write_batches(folder, names, records_per_file=2):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        body = b"".join(record((i + r) % 10, red=255, blue=i) for r in range(records_per_file))
        (folder / name).write_bytes(body)


def test_loads_train_split_in_file_order(tmp_path):
    write_batches(tmp_path, TRAIN)
    data = load_cifar(tmp_path, "train")
    assert data.name == "cifar" and data.pixel_range == (-1.0, 1.0)
    assert data.samples.shape == (10, 3, 32, 32) and data.samples.dtype == np.float32
    assert data.labels.dtype == np.int64
    assert data.labels.tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    # Channel planes stay apart: red 255 -> 1, green 0 -> -1, blue = file index.
    assert (data.samples[:, 0] == 1.0).all() and (data.samples[:, 1] == -1.0).all()
    np.testing.assert_allclose(data.samples[8, 2], 4 / 127.5 - 1)


def test_loads_test_split_from_extracted_folder(tmp_path):
    write_batches(tmp_path / "cifar-10-batches-bin", ["test_batch.bin"], records_per_file=3)
    data = load_cifar(tmp_path, "test")
    assert data.samples.shape == (3, 3, 32, 32) and data.labels.tolist() == [0, 1, 2]


def test_missing_file_names_it_and_the_script(tmp_path):
    write_batches(tmp_path, TRAIN[:4])
    with pytest.raises(DataError) as error:
        load_cifar(tmp_path, "train")
    message = str(error.value)
    assert "data_batch_5.bin" in message and "data_batch_1.bin" not in message
    assert "bash data/get_cifar_data.sh" in message


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_cifar(tmp_path, "valid")


@pytest.mark.parametrize(
    "body, expected",
    [
        (record(1) + b"\x00", "3074 bytes is not a whole, non-zero number of 3073-byte records"),
        (record(1)[:-1], "3072 bytes is not a whole"),
        (b"", "0 bytes is not a whole, non-zero"),
        (record(3) + record(10), "label 10 in record 1, expected 0..9"),
    ],
    ids=["extra-byte", "short-record", "empty", "label-out-of-range"],
)
def test_malformed_batch_is_a_data_error(tmp_path, body, expected):
    write_batches(tmp_path, ["test_batch.bin"])
    (tmp_path / "test_batch.bin").write_bytes(body)
    with pytest.raises(DataError, match=expected) as error:
        load_cifar(tmp_path, "test")
    assert str(tmp_path / "test_batch.bin") in str(error.value)
