"""The uploader on its own, with the store a local folder through fsspec (no server): a checkpoint
goes up files first and manifest last, a rotated one is deleted, changed files follow a sync,
`pull` brings a resumed run's files down (the larger copy wins) and skips a folder without a
manifest; a failed upload reaches the training thread as one StorageError and stops the uploads."""
import contextlib
import importlib.util

import numpy as np
import pytest

from paddle_gan import remote
from paddle_gan.checkpoint.files import list_checkpoints, save_checkpoint
from paddle_gan.mirror import Mirror
from paddle_gan.storage import StorageError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("fsspec") is None,
                                reason="fsspec is not installed (pip install -e '.[remote]')")


class Recording(remote.RemoteFolder):
    """A store that is a local folder, recording what was written and deleted, in order."""

    def __init__(self, root):
        import fsspec

        local = fsspec.filesystem("file", auto_mkdir=True)
        super().__init__(f"s3://test/{root.name}", local, str(root))
        self.events = []

    def write(self, rel, data):
        self.events.append(("write", rel))
        super().write(rel, data)

    def delete(self, rel):
        self.events.append(("delete", rel))
        super().delete(rel)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    store = Recording(tmp_path / "store")
    (tmp_path / "store").mkdir()
    monkeypatch.setattr("paddle_gan.mirror.open_folder",
                        lambda url, options=None, deadline=None: store)
    (tmp_path / "staging").mkdir()
    mirror = Mirror("s3://test/store", tmp_path / "staging")
    yield mirror
    with contextlib.suppress(StorageError):  # the failure test saw it already
        mirror.close()


def save(folder, step, sequence):
    return save_checkpoint(folder / "checkpoints", f"step-{step:08d}-pass-0000",
                           {"w": np.arange(3.0)}, {"step": step}, sequence)


def test_a_checkpoint_goes_up_manifest_last_and_a_rotated_one_is_deleted(mirror):
    mirror.pull()
    path = save(mirror.staging, 5, 1)
    mirror.push_checkpoint(path)
    mirror.delete_checkpoint(path)
    mirror.wait()
    rel = "checkpoints/step-00000005-pass-0000"
    assert mirror.folder.events == [
        ("delete", f"{rel}/manifest.json"), ("write", f"{rel}/arrays.npz"),
        ("write", f"{rel}/meta.json"), ("write", f"{rel}/manifest.json"),
        ("delete", f"{rel}/manifest.json"), ("delete", rel)]
    assert mirror.folder.files() == {}


def test_changed_files_follow_a_sync_and_unchanged_ones_do_not(mirror):
    mirror.pull()
    mirror.wait()  # pull's own upload pass, which could catch train.log half written
    (mirror.staging / "train.log").write_text("one\n")
    mirror.sync()
    mirror.wait()
    mirror.sync()
    mirror.wait()
    assert mirror.folder.events == [("write", "train.log")]
    with open(mirror.staging / "train.log", "a") as f:
        f.write("two\n")
    mirror.close()
    assert mirror.folder.read("train.log") == b"one\ntwo\n"


def test_pull_brings_the_store_down_and_skips_a_folder_without_manifest(mirror, tmp_path):
    store = tmp_path / "store"
    complete = save(store, 10, 2)
    cut = save(store, 20, 3)
    (cut / "manifest.json").unlink()
    (store / "train.log").write_text("from the store, longer\n")
    (mirror.staging / "train.log").write_text("short\n")
    mirror.pull()
    names = [p.name for p in list_checkpoints(mirror.staging / "checkpoints")]
    assert names == [complete.name]
    assert (mirror.staging / "train.log").read_text() == "from the store, longer\n"


def test_a_failed_upload_stops_the_uploads_and_is_one_storage_error(mirror, monkeypatch):
    monkeypatch.setattr(remote, "RETRY_DELAYS", (0.01,))
    mirror.pull()
    mirror.wait()

    def refuse(*args, **kwargs):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(mirror.folder.fs, "pipe_file", refuse)
    (mirror.staging / "train.log").write_text("x\n")
    mirror.sync()
    mirror.wait()
    with pytest.raises(StorageError, match=r"cannot write s3://test/store/train.log: connection "
                       r"refused \(ConnectionError\) \(after 2 tries in \d+ s\)"):
        mirror.check()
    with pytest.raises(StorageError):
        mirror.close()
