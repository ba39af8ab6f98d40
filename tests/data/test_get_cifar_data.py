"""data/get_cifar_data.sh on small archives the tests build (the real one cannot be fetched here):
the MD5 check, a guarded extraction that refuses the whole archive when any member is an absolute
path, has a `..`, is a link or a device, or would land outside the destination (writing nothing at
all), and a second run that changes nothing."""
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from paddle_gan.datasets.cifar import load_cifar

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "data" / "get_cifar_data.sh"
ARCHIVE = "cifar-10-binary.tar.gz"
BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
RECORD = bytes([7]) + bytes(range(256)) * 12  # label 7, then 3072 pixel bytes


def file_member(name, data=b""):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special_member(name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


def good_members():
    members = [(tarfile.TarInfo("cifar-10-batches-bin"), None)]
    members[0][0].type = tarfile.DIRTYPE
    members += [file_member(f"cifar-10-batches-bin/{name}", RECORD * 2) for name in BATCHES]
    members.append(file_member("cifar-10-batches-bin/batches.meta.txt", b"airplane\n"))
    return members


def build_archive(path, members):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return hashlib.md5(path.read_bytes()).hexdigest()


def run(tmp_path, source, md5=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIFAR_")}
    env.update(CIFAR_SOURCE=str(source), CIFAR_DIR=str(tmp_path / "dest"))
    if md5:
        env["CIFAR_MD5"] = md5
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def error_line(result, downloaded=False):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    if downloaded:  # curl's or wget's progress bar shares stderr
        lines = lines[-1:]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("get_cifar_data.sh: error: ")
    return lines[0]


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_good_archive_is_extracted_then_left_alone(tmp_path):
    md5 = build_archive(tmp_path / "src" / ARCHIVE, good_members())
    first = run(tmp_path, tmp_path / "src", md5)
    assert first.returncode == 0, first.stderr
    batch_dir = tmp_path / "dest" / "cifar-10-batches-bin"
    for name in BATCHES:
        assert (batch_dir / name).read_bytes() == RECORD * 2
    data = load_cifar(tmp_path / "dest", "train")  # what the script made, the reader reads
    assert data.samples.shape == (10, 3, 32, 32) and set(data.labels.tolist()) == {7}
    assert np.isclose(data.samples[0, 0, 0, 1], 1 / 127.5 - 1)
    assert tree(tmp_path / "dest") == ["cifar-10-batches-bin"] + sorted(
        f"cifar-10-batches-bin/{n}"
        for n in BATCHES + ["batches.meta.txt", ".archive-md5", ".checksums.md5"]
    )
    # what the reader will hold the files to: the MD5 of each, from the checked archive
    recorded = (batch_dir / ".checksums.md5").read_text().splitlines()
    assert recorded == [f"{hashlib.md5(RECORD * 2).hexdigest()}  {name}" for name in BATCHES]

    before = {p: p.stat().st_mtime_ns for p in batch_dir.iterdir()}
    second = run(tmp_path, tmp_path / "src", md5)
    assert second.returncode == 0, second.stderr
    assert "already present and valid" in second.stdout
    assert {p: p.stat().st_mtime_ns for p in batch_dir.iterdir()} == before


def test_archive_file_itself_as_source(tmp_path):
    md5 = build_archive(tmp_path / "elsewhere.tar.gz", good_members())
    result = run(tmp_path, tmp_path / "elsewhere.tar.gz", md5)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dest" / "cifar-10-batches-bin" / "test_batch.bin").is_file()


@pytest.mark.skipif(not (shutil.which("curl") or shutil.which("wget")), reason="no curl or wget")
def test_url_source_is_downloaded_and_the_download_removed(tmp_path):
    md5 = build_archive(tmp_path / "src" / ARCHIVE, good_members())
    result = run(tmp_path, (tmp_path / "src").as_uri(), md5)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["cifar-10-batches-bin"]


def test_wrong_md5_extracts_nothing(tmp_path):
    build_archive(tmp_path / "src" / ARCHIVE, good_members())
    result = run(tmp_path, tmp_path / "src")  # checked against the official sum
    line = error_line(result)
    assert "MD5 mismatch" in line and "expected c32a1d4ab5d03f1284b67883e8d87530" in line
    assert tree(tmp_path / "dest") == []
    assert (tmp_path / "src" / ARCHIVE).is_file()  # a local source is not the script's to delete


@pytest.mark.skipif(not (shutil.which("curl") or shutil.which("wget")), reason="no curl or wget")
def test_wrong_md5_download_is_removed(tmp_path):
    build_archive(tmp_path / "src" / ARCHIVE, good_members())
    line = error_line(run(tmp_path, (tmp_path / "src").as_uri()), downloaded=True)
    assert "MD5 mismatch" in line and "bad file removed" in line
    assert tree(tmp_path / "dest") == []


def test_missing_archive(tmp_path):
    (tmp_path / "src").mkdir()
    assert "not found in CIFAR_SOURCE" in error_line(run(tmp_path, tmp_path / "src"))


def test_not_a_tar_gz(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / ARCHIVE).write_bytes(b"not an archive")
    md5 = hashlib.md5(b"not an archive").hexdigest()
    assert "cannot extract" in error_line(run(tmp_path, tmp_path / "src", md5))


def test_archive_without_the_batches(tmp_path):
    md5 = build_archive(tmp_path / "src" / ARCHIVE, good_members()[:-2])  # no test_batch.bin
    line = error_line(run(tmp_path, tmp_path / "src", md5))
    assert "no cifar-10-batches-bin/test_batch.bin in the archive" in line
    assert not (tmp_path / "dest" / "cifar-10-batches-bin" / ".archive-md5").exists()


def symlink_out(t):
    return special_member("cifar-10-batches-bin/link", tarfile.SYMTYPE, str(t))


@pytest.mark.parametrize(
    "evil, reason",
    [
        (lambda t: file_member("../evil", b"x"), "'..' component"),
        (lambda t: file_member("cifar-10-batches-bin/../../evil", b"x"), "'..' component"),
        (lambda t: file_member(str(t / "evil"), b"x"), "absolute path"),
        (symlink_out, "is a link"),
        (lambda t: special_member("link", tarfile.SYMTYPE, "../.."), "is a link"),
        (lambda t: special_member("hard", tarfile.LNKTYPE, str(t / "evil")), "is a link"),
        (lambda t: special_member("tty", tarfile.CHRTYPE), "is a device"),
        (lambda t: special_member("fifo", tarfile.FIFOTYPE), "other special file"),
    ],
    ids=[
        "dotdot", "nested-dotdot", "absolute", "symlink", "relative-symlink", "hardlink",
        "device", "fifo",
    ],
)
def test_malicious_archive_is_refused_whole(tmp_path, evil, reason):
    # Good members first: a refused archive must not leave even those behind.
    members = good_members() + [evil(tmp_path)]
    if members[-1][0].issym():  # the classic follow-up: write through the link
        members.append(file_member(f"{members[-1][0].name}/evil", b"x"))
    md5 = build_archive(tmp_path / "src" / ARCHIVE, members)
    line = error_line(run(tmp_path, tmp_path / "src", md5))
    assert "refused" in line and reason in line
    assert tree(tmp_path / "dest") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "src"]  # nothing outside


def test_symlink_already_in_destination_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "cifar-10-batches-bin").symlink_to(outside)
    md5 = build_archive(tmp_path / "src" / ARCHIVE, good_members())
    line = error_line(run(tmp_path, tmp_path / "src", md5))
    assert "would land outside" in line
    assert list(outside.iterdir()) == []
