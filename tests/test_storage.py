"""The one place writes go through: an OSError becomes one line saying what, where and why; a
whole file never stays half-written; an append is cut back; the output folder's lock."""
import errno
import json
import os
import subprocess
import sys
import time

import pytest

from paddle_gan import storage
from paddle_gan.storage import RunLock, StorageError

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "no space left on the device (ENOSPC)"),
    (errno.EROFS, "the file system is read-only (EROFS)"),
    (errno.ENOTDIR, "a part of the path is a file, not a folder (ENOTDIR)"),
    (errno.EACCES, "permission denied (EACCES)"),
])
def test_an_oserror_is_one_line_saying_what_where_and_why(tmp_path, code, words):
    with pytest.raises(StorageError) as raised:
        with storage.writing("sample picture", tmp_path / "p.png"):
            raise OSError(code, os.strerror(code))
    assert str(raised.value) == f"cannot write sample picture {tmp_path / 'p.png'}: {words}"


def test_a_failed_whole_file_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = storage.write_bytes(tmp_path / "config.yaml", b"old")
    (tmp_path / "blocker").mkdir()
    with pytest.raises(StorageError, match="it is a folder"):
        storage.write_bytes(tmp_path / "blocker", b"new", "file")  # replacing a folder fails
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["blocker",
                                                                            "config.yaml"]


def test_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="a part of the path is a file, not a folder"):
        storage.make_folder(tmp_path / "file" / "run", "output dir")
    with pytest.raises(StorageError, match="a file of that name is in the way"):
        storage.make_folder(tmp_path / "file", "output dir")


def run_limited(code: str, limit: int) -> subprocess.CompletedProcess:
    """Python `code` in a child whose files may not grow past `limit` bytes (RLIMIT_FSIZE: a
    write beyond it fails with EFBIG, as on a full disk, without privileges)."""
    script = (f"import resource, signal, sys; sys.path.insert(0, {SRC!r});"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
              f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}));") + code
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def test_a_failed_append_is_cut_back(tmp_path):
    path = tmp_path / "metrics.jsonl"
    storage.append_text(path, '{"pass": 0}\n')
    result = run_limited(f"from paddle_gan import storage; storage.append_text({str(path)!r}, "
                         "'x' * 1000 + '\\n', 'metrics')", limit=200)
    assert "cannot write metrics" in result.stderr and "EFBIG" in result.stderr
    assert path.read_text() == '{"pass": 0}\n'  # no half line


HOLD = ("import sys, time; sys.path.insert(0, sys.argv[2]); from paddle_gan.storage import RunLock;"
        "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(60)")


def holder(folder):
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), SRC],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "locked\n"
    return process


def test_a_second_run_is_refused_naming_the_first_and_a_killed_run_leaves_no_lock(tmp_path):
    first = holder(tmp_path)
    try:
        with pytest.raises(StorageError) as raised:
            RunLock(tmp_path).acquire()
        message = str(raised.value)
        assert f"PID {first.pid} on host {os.uname().nodename}" in message
        assert "in use by another run" in message and "\n" not in message
    finally:
        first.kill()  # kill -9: no clean-up runs, the kernel drops the lock
        first.wait()
    lock = RunLock(tmp_path)
    assert lock.acquire()
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    lock.release()


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00", b"[" * 50_000, b'{"pid": "x"}',
                                     b"{" + b"a" * 100_000])
def test_a_hostile_lock_file_still_gives_one_line(tmp_path, content):
    first = holder(tmp_path)
    try:
        (tmp_path / ".lock").write_bytes(content)
        with pytest.raises(StorageError, match="in use by another run .*does not say which"):
            RunLock(tmp_path).acquire()
    finally:
        first.kill()
        first.wait()


def test_the_lock_is_released_at_the_end(tmp_path):
    lock = RunLock(tmp_path)
    lock.acquire()
    lock.release()
    start = time.monotonic()
    again = RunLock(tmp_path)
    assert again.acquire() and time.monotonic() - start < 1
    again.release()


# --- URLs: which local folder stands for a store's folder ------------------------------------

def test_a_url_maps_to_one_local_folder_and_file_urls_are_plain_paths(tmp_path):
    assert storage.is_remote("s3://bucket/run") and storage.is_remote("webhdfs://nn:9870/x")
    assert not storage.is_remote("output/run") and not storage.is_remote("file:///tmp/run")
    assert storage.local_path("file:///tmp/run") == storage.local_path("/tmp/run")
    folder = storage.local_folder("s3://bucket/a/b/", tmp_path, "runs")
    assert folder == tmp_path / "runs" / "s3" / "bucket" / "a" / "b"
    assert storage.local_folder("hdfs://me:pw@nn:8020/a", tmp_path, "data") == (
        tmp_path / "data" / "hdfs" / "nn_8020" / "a")  # no credentials in a folder name


@pytest.mark.parametrize("url", ["s3:///no-bucket", "s3://bucket/../escape", "s3://../x"])
def test_a_url_that_would_leave_the_cache_is_one_line(tmp_path, url):
    with pytest.raises(StorageError, match="needs a host or bucket and no '..'"):
        storage.local_folder(url, tmp_path, "runs")


def test_a_password_in_a_url_is_never_shown():
    assert storage.redact("webhdfs://me:hunter2@nn:9870/x") == "webhdfs://me:***@nn:9870/x"
    assert storage.redact("s3://bucket/x") == "s3://bucket/x"
