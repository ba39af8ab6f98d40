"""`-d mnist` and `-d cifar` end to end through `paddle_gan.cli.main`: a few DCGAN iterations on
tiny data files the tests write (and on the real MNIST when it is on disk), the 8x8 sample grid,
missing data (exit 2 naming the script) and `--download` passing the data folder to the script."""
import struct
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from paddle_gan.cli.train import main
from paddle_gan.render import GRID_SCALE, TITLE_PIXELS

REPO = Path(__file__).resolve().parents[1]
REAL_MNIST = REPO.parent / "shared" / "data" / "mnist"
HAVE_REAL_MNIST = (REAL_MNIST / "train-images-idx3-ubyte.gz").is_file()


def write_tiny_mnist(folder: Path, count: int = 64) -> Path:
    """`count` random 28x28 images and labels as MNIST's training IDX files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, count, dtype=np.uint8)
    (folder / "train-images-idx3-ubyte").write_bytes(
        struct.pack(">iIII", 2051, count, 28, 28) + pixels.tobytes()
    )
    (folder / "train-labels-idx1-ubyte").write_bytes(
        struct.pack(">iI", 2049, count) + labels.tobytes()
    )
    return folder


def write_tiny_cifar(folder: Path, per_file: int = 4) -> Path:
    """Five binary training batches of `per_file` random records each."""
    batches = folder / "cifar-10-batches-bin"
    batches.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        records = rng.integers(0, 256, (per_file, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        (batches / f"data_batch_{i}.bin").write_bytes(records.tobytes())
    return folder


def run_args(data: str, data_dir: Path, out: Path, iters: int = 3, batch: int = 8):
    # Only the plugins under test: the run configs' metrics plugin alone takes seconds a pass.
    return [
        "-d", data, "--use_gpu", "0", "--num_passes", "1", "--iters_per_pass", str(iters),
        "--batch_size", str(batch), "--output_dir", str(out), "--set", f"data_dir={data_dir}",
        "--set", "plugins=[console,samples]",
    ]


def assert_grid(out: Path, size: int, channels: int):
    """The pass-0 picture is an 8x8 grid of size x size samples, each pixel drawn 3 wide, under
    a title band."""
    picture = matplotlib.image.imread(out / "samples" / "pass-0000.png")
    side = 8 * size * GRID_SCALE
    assert picture.shape[:2] == (side + TITLE_PIXELS, side)
    assert (picture[:TITLE_PIXELS] < 0.5).any()  # the title's dark letters on white
    rgb = picture[TITLE_PIXELS:, :, :3]
    if channels == 1:  # grey: the three channels agree
        assert np.array_equal(rgb[:, :, 0], rgb[:, :, 2])
    assert (out / "samples" / "fixed_noise.npy").is_file()
    assert np.load(out / "samples" / "fixed_noise.npy").shape == (64, 100)


def test_mnist_on_a_tiny_idx_fixture(tmp_path, capsys):
    data_dir = write_tiny_mnist(tmp_path / "mnist")
    out = tmp_path / "run"
    assert main(run_args("mnist", data_dir, out)) == 0
    assert_grid(out, 28, 1)
    assert "mnist: 1 passes x 3 iterations, batch 8" in capsys.readouterr().out


def test_cifar_on_tiny_binary_batches(tmp_path):
    data_dir = write_tiny_cifar(tmp_path / "cifar")
    out = tmp_path / "run"
    assert main(run_args("cifar", data_dir, out, iters=2)) == 0
    assert_grid(out, 32, 3)


@pytest.mark.skipif(not HAVE_REAL_MNIST, reason=f"no MNIST in {REAL_MNIST}")
def test_mnist_on_the_real_data(tmp_path):
    out = tmp_path / "run"
    assert main(run_args("mnist", REAL_MNIST, out, iters=2, batch=16)) == 0
    assert_grid(out, 28, 1)


@pytest.mark.parametrize("data, script", [("mnist", "get_mnist_data"), ("cifar", "get_cifar_data")])
def test_missing_data_names_the_script(tmp_path, capsys, data, script):
    code = main(run_args(data, tmp_path / "nothing", tmp_path / "run"))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and f"bash data/{script}.sh" in err


def test_failed_download_is_exit_2_naming_the_script(tmp_path, monkeypatch, capfd):
    empty = tmp_path / "empty_source"
    empty.mkdir()
    monkeypatch.setenv("MNIST_SOURCE", str(empty))  # never a mirror: tests stay offline
    dest = tmp_path / "dest"
    code = main(run_args("mnist", dest, tmp_path / "run") + ["--download"])
    assert code == 2
    last = capfd.readouterr().err.strip().splitlines()[-1]  # the script's own reason is above
    assert last.startswith("error: data/get_mnist_data.sh could not fetch mnist (exit 1")
    assert "MNIST_SOURCE=FOLDER bash data/get_mnist_data.sh" in last
    assert not any(dest.glob("*-ubyte"))


@pytest.mark.skipif(not HAVE_REAL_MNIST, reason=f"no MNIST in {REAL_MNIST}")
def test_download_fills_the_data_dir_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_SOURCE", str(REAL_MNIST))
    dest = tmp_path / "dest"
    out = tmp_path / "run"
    assert main(run_args("mnist", dest, out, iters=1, batch=16) + ["--download"]) == 0
    assert (dest / "train-images-idx3-ubyte").stat().st_size == 47040016
    assert_grid(out, 28, 1)
