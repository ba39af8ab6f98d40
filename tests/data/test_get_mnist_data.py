"""data/get_mnist_data.sh against local sources (never the network): good files land valid and
under their final names, a second run changes nothing, and a corrupted or missing file is one
clear error line, a non-zero exit and no bad or temporary file left behind."""
import gzip
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "data" / "get_mnist_data.sh"
REAL_MNIST = next(
    (p for p in (REPO.parent / "shared/data/mnist", Path("/work/shared/data/mnist")) if p.is_dir()),
    None,
)
needs_real = pytest.mark.skipif(REAL_MNIST is None, reason="no offline copy of MNIST")
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


def run(source, dest, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNIST_")}
    env.update(MNIST_SOURCE=str(source), MNIST_DIR=str(dest))
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def assert_failed_with_one_line(result, *fragments):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("get_mnist_data.sh: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def linked_source(tmp_path, skip=()):
    """A source folder of links to the real .gz files, minus the names in `skip`."""
    source = tmp_path / "source"
    source.mkdir()
    for name in OFFICIAL_MD5:
        if name not in skip:
            (source / f"{name}.gz").symlink_to(REAL_MNIST / f"{name}.gz")
    return source


@needs_real
def test_good_source_then_second_run_changes_nothing(tmp_path):
    dest = tmp_path / "mnist_data"
    first = run(REAL_MNIST, dest)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in dest.iterdir()) == sorted(OFFICIAL_MD5)  # no temp files left
    for name, expected in OFFICIAL_MD5.items():
        assert md5(dest / name) == expected

    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in dest.iterdir()}
    second = run(REAL_MNIST, dest)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("already present and valid") == 4
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in dest.iterdir()} == before

    # A damaged file in the destination is fetched again, and only that one.
    (dest / "train-labels-idx1-ubyte").write_bytes(b"not mnist")
    third = run(REAL_MNIST, dest)
    assert third.returncode == 0, third.stderr
    assert "train-labels-idx1-ubyte: present but its MD5 is wrong" in third.stdout
    assert third.stdout.count("already present and valid") == 3
    assert md5(dest / "train-labels-idx1-ubyte") == OFFICIAL_MD5["train-labels-idx1-ubyte"]


@needs_real
def test_corrupted_real_file_fails_and_is_removed(tmp_path):
    # Uncompressed and one byte off, so it decompresses fine and only the MD5 can catch it.
    source = linked_source(tmp_path, skip={"t10k-labels-idx1-ubyte"})
    labels = bytearray(gzip.decompress((REAL_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[-1] ^= 1
    (source / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    dest = tmp_path / "mnist_data"
    result = run(source, dest)
    assert_failed_with_one_line(result, "t10k-labels-idx1-ubyte", "MD5 mismatch", "removed")
    assert list(dest.iterdir()) == []  # neither the bad file nor a temporary one is left


@needs_real
def test_truncated_real_gz_fails(tmp_path):
    source = linked_source(tmp_path, skip={"t10k-labels-idx1-ubyte"})
    data = (REAL_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (source / "t10k-labels-idx1-ubyte.gz").write_bytes(data[: len(data) // 2])
    dest = tmp_path / "mnist_data"
    result = run(source, dest)
    assert_failed_with_one_line(result, "t10k-labels-idx1-ubyte", "does not decompress")
    assert list(dest.iterdir()) == []


@needs_real
def test_missing_real_file_fails(tmp_path):
    source = linked_source(tmp_path, skip={"t10k-images-idx3-ubyte"})
    dest = tmp_path / "mnist_data"
    result = run(source, dest)
    assert_failed_with_one_line(result, "t10k-images-idx3-ubyte", "not found")
    # The good file fetched before it is kept; nothing else is there.
    assert [p.name for p in dest.iterdir()] == ["t10k-labels-idx1-ubyte"]


@needs_real
@pytest.mark.skipif(not (shutil.which("curl") or shutil.which("wget")), reason="no curl or wget")
def test_url_source_is_downloaded(tmp_path):
    # A file:// URL takes the download path (curl or wget, then gunzip) without any network.
    dest = tmp_path / "mnist_data"
    result = run(REAL_MNIST.as_uri(), dest)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in dest.iterdir()) == sorted(OFFICIAL_MD5)


@pytest.mark.skipif(not (shutil.which("curl") or shutil.which("wget")), reason="no curl or wget")
def test_unreachable_url_fails(tmp_path):
    dest = tmp_path / "mnist_data"
    result = run((tmp_path / "nowhere").as_uri(), dest)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]  # curl or wget may say why above it
    assert last.startswith("get_mnist_data.sh: error: t10k-labels-idx1-ubyte: no good copy")
    assert "download of" in last
    assert list(dest.iterdir()) == []


# These need no real data: the MD5 is checked against the official sums, so any fake file fails.


def test_fake_file_fails_md5(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(100))
    dest = tmp_path / "mnist_data"
    result = run(source, dest)
    assert_failed_with_one_line(
        result, "t10k-labels-idx1-ubyte", f"expected {OFFICIAL_MD5['t10k-labels-idx1-ubyte']}"
    )
    assert list(dest.iterdir()) == []


def test_empty_source_fails(tmp_path):
    (tmp_path / "source").mkdir()
    dest = tmp_path / "mnist_data"
    result = run(tmp_path / "source", dest)
    assert_failed_with_one_line(result, "t10k-labels-idx1-ubyte", "not found")
    assert list(dest.iterdir()) == []


def test_relative_source_is_taken_from_the_current_directory(tmp_path):
    (tmp_path / "source").mkdir()
    result = run("source", tmp_path / "mnist_data", cwd=tmp_path)
    assert_failed_with_one_line(result, "not found (neither source/t10k-labels-idx1-ubyte")


def test_source_that_is_neither_dir_nor_url(tmp_path):
    result = run(tmp_path / "absent", tmp_path / "mnist_data")
    assert_failed_with_one_line(result, "is neither a directory nor a URL")
