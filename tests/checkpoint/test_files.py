"""Tests for the checkpoint file layer: round trip, atomicity, corruption fallback, safe loading."""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re

import numpy as np
import pytest

from paddle_gan.checkpoint import files as cio
from paddle_gan.checkpoint.files import (
    checkpoint_name,
    list_checkpoints,
    load_checkpoint,
    newest_valid,
    parse_name,
    remove_leftovers,
    rotate_checkpoints,
    save_checkpoint,
    sequence_of,
)
from paddle_gan.errors import CheckpointError
from paddle_gan.storage import StorageError


def _arrays():
    rng = np.random.default_rng(0)
    f64 = rng.standard_normal(5)
    f64[:2] = [np.nan, -0.0]  # bit patterns a float comparison would gloss over
    return {
        "gen_training/gen.fc.weight": rng.standard_normal((3, 4)).astype(np.float32),
        "dis_training/dis.bn._mean": f64,
        "rng/numpy_keys": rng.integers(0, 2**62, size=7, dtype=np.int64),
        "data/pixels": rng.integers(0, 256, size=(2, 2), dtype=np.uint8),
        "mask": np.array([True, False, True]),
        "half": np.arange(4, dtype=np.float16),
        "scalar": np.array(7, dtype=np.int32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        # Names that would clash with np.savez's own parameters or need quoting in a zip.
        "file": np.ones(1),
        "allow_pickle": np.ones(1),
        "weird key %2F ü": np.ones(1),
    }


META = {"global_step": 12, "pass_id": 1, "scheduler": {"cur": "dis", "strike": 2},
        "plugins": {"console": {}}, "lr": 1e-4, "names": ["a", "b"], "none": None}


def _save(directory, step, pass_id=0, arrays=None, meta=None, line=1, sequence=0):
    return save_checkpoint(directory, checkpoint_name(step, pass_id, line),
                           arrays if arrays is not None else {"w": np.full(3, step, np.float32)},
                           meta if meta is not None else {"global_step": step}, sequence)


def _p(path):
    """A path as a regex, for `pytest.raises(match=...)`."""
    return re.escape(str(path))


def _tamper(ckpt, fname, data: bytes, rehash: bool):
    """Replace one file; with rehash=True also fix the manifest, as a deliberate attacker would."""
    (ckpt / fname).write_bytes(data)
    if rehash:
        manifest = json.loads((ckpt / "manifest.json").read_text())
        manifest["files"][fname] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        (ckpt / "manifest.json").write_text(json.dumps(manifest))


def test_round_trip_is_bitwise(tmp_path):
    arrays = _arrays()
    path = save_checkpoint(tmp_path, checkpoint_name(12, 1), arrays, META)
    assert path == tmp_path / "step-00000012-pass-0001"
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "manifest.json", "meta.json"]
    loaded, meta = load_checkpoint(path)
    assert meta == META
    assert loaded.keys() == arrays.keys()
    for key, want in arrays.items():
        got = loaded[key]
        assert got.dtype == want.dtype and got.shape == want.shape, key
        assert got.tobytes() == want.tobytes(), key


def test_save_refuses_object_arrays_and_non_json_meta(tmp_path):
    with pytest.raises(CheckpointError, match="'bad'"):
        save_checkpoint(tmp_path, "x", {"bad": np.array([object()])}, {})
    with pytest.raises(CheckpointError, match="JSON"):
        save_checkpoint(tmp_path, "x", {}, {"f": lambda: 0})
    assert list(tmp_path.iterdir()) == []


def test_replacing_an_existing_checkpoint_leaves_no_leftovers(tmp_path):
    _save(tmp_path, 5, meta={"v": 1})
    path = _save(tmp_path, 5, meta={"v": 2})
    assert load_checkpoint(path)[1] == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("replace_existing", [False, True])
def test_failed_rename_keeps_previous_checkpoint(tmp_path, monkeypatch, replace_existing):
    prev = _save(tmp_path, 1)
    name = prev.name if replace_existing else checkpoint_name(2, 0)
    real_replace = os.replace

    def crash_on_publish(src, dst):
        if ".tmp-" in os.fspath(src):
            raise OSError("simulated crash during rename")
        return real_replace(src, dst)

    monkeypatch.setattr(cio.os, "replace", crash_on_publish)
    with pytest.raises(StorageError, match=f"cannot write checkpoint .*{name}: simulated crash"):
        save_checkpoint(tmp_path, name, {"w": np.zeros(3, np.float32)}, {"global_step": 99})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == [prev.name]  # no temp, no half checkpoint
    arrays, meta = load_checkpoint(prev)
    assert meta == {"global_step": 1} and arrays["w"].tolist() == [1, 1, 1]


def test_crash_leftover_temp_folder_is_ignored(tmp_path):
    prev = _save(tmp_path, 1)
    leftover = tmp_path / f".{checkpoint_name(2, 0)}.tmp-99999"
    leftover.mkdir()
    (leftover / "arrays.npz").write_bytes(b"PK\x03\x04half")
    assert list_checkpoints(tmp_path) == [prev]
    assert newest_valid(tmp_path, warn=pytest.fail)[0] == prev


def test_truncated_newest_falls_back_with_one_line_warning(tmp_path):
    prev = _save(tmp_path, 1)
    newest = _save(tmp_path, 2)
    data = (newest / "arrays.npz").read_bytes()
    (newest / "arrays.npz").write_bytes(data[: len(data) // 2])
    warnings = []
    assert newest_valid(tmp_path, warn=warnings.append)[0] == prev
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert newest.name in warnings[0] and "truncated" in warnings[0]
    with pytest.raises(CheckpointError, match="arrays.npz is .* bytes"):
        load_checkpoint(newest)


@pytest.mark.parametrize("fname", ["arrays.npz", "meta.json"])
def test_same_size_garbage_is_a_hash_mismatch(tmp_path, fname):
    path = _save(tmp_path, 1)
    size = (path / fname).stat().st_size
    _tamper(path, fname, os.urandom(size), rehash=False)
    with pytest.raises(CheckpointError, match=f"{_p(path)}.*{fname} SHA-256 does not match"):
        load_checkpoint(path)


@pytest.mark.parametrize("fname, pattern", [("arrays.npz", "unreadable arrays.npz"),
                                            ("meta.json", "bad meta.json")])
def test_garbage_with_matching_manifest_is_still_refused(tmp_path, fname, pattern):
    path = _save(tmp_path, 1)
    _tamper(path, fname, b"\xff garbage \x00" * 10, rehash=True)
    with pytest.raises(CheckpointError, match=pattern):
        load_checkpoint(path)


def test_missing_or_broken_manifest(tmp_path):
    path = _save(tmp_path, 1)
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="bad manifest.json"):
        load_checkpoint(path)
    sneaky = {"../x": {}, "arrays.npz": {}, "meta.json": {}}  # a name outside the folder
    for files, pattern in [({"meta.json": {}}, "does not list both"), (sneaky, "'../x'")]:
        (path / "manifest.json").write_text(json.dumps({"format": cio.FORMAT, "files": files}))
        with pytest.raises(CheckpointError, match=pattern):
            load_checkpoint(path)
    (path / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match=_p(path)):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nope")


class _Payload:
    """Unpickling this calls open(marker, 'w'): loading it would create a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pickle_in_npz_is_refused_and_not_run(tmp_path):
    path = _save(tmp_path, 1)
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    np.savez(buf, k_w=np.array([_Payload(marker)], dtype=object))  # savez pickles object arrays
    evil = buf.getvalue()
    # The payload is live: an unsafe loader really would create the file.
    proof = tmp_path / "proof"
    buf2 = io.BytesIO()
    np.savez(buf2, k_w=np.array([_Payload(proof)], dtype=object))
    np.load(io.BytesIO(buf2.getvalue()), allow_pickle=True)["k_w"]
    assert proof.exists()

    _tamper(path, "arrays.npz", evil, rehash=True)
    with pytest.raises(CheckpointError, match=f"{_p(path)}: unreadable arrays.npz.*allow_pickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_raw_pickle_as_arrays_file_is_refused_and_not_run(tmp_path):
    path = _save(tmp_path, 1)
    marker = tmp_path / "pwned"
    _tamper(path, "arrays.npz", pickle.dumps(_Payload(marker)), rehash=True)
    with pytest.raises(CheckpointError, match="unreadable arrays.npz"):
        load_checkpoint(path)
    assert not marker.exists()


def test_meta_is_parsed_as_json_never_executed(tmp_path):
    path = _save(tmp_path, 1)
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()".encode()
    _tamper(path, "meta.json", code, rehash=True)
    with pytest.raises(CheckpointError, match="bad meta.json"):
        load_checkpoint(path)
    assert not marker.exists()


def test_list_sorts_numerically_and_ignores_non_checkpoints(tmp_path):
    a, b, c = _save(tmp_path, 9), _save(tmp_path, 10, 1), _save(tmp_path, 123456789, 9)
    (tmp_path / "step-00000011-pass-0001").write_text("a file, not a folder")
    (tmp_path / ".step-00000012-pass-0001.tmp-1").mkdir()
    (tmp_path / "samples").mkdir()
    assert list_checkpoints(tmp_path) == [a, b, c]
    assert list_checkpoints(tmp_path / "missing") == []
    assert checkpoint_name(12345, 3) == "step-00012345-pass-0003"


def test_rotation_keeps_last_k_and_the_protected_one(tmp_path):
    paths = [_save(tmp_path, s) for s in range(1, 6)]
    assert rotate_checkpoints(tmp_path, keep_last=2, line=1, protect=paths[0]) == paths[1:3]
    assert list_checkpoints(tmp_path) == [paths[0], paths[3], paths[4]]
    assert rotate_checkpoints(tmp_path, keep_last=2, line=1, protect=None) == [paths[0]]
    assert rotate_checkpoints(tmp_path, keep_last=5, line=1, protect=None) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(ValueError):
        rotate_checkpoints(tmp_path, keep_last=0, line=1, protect=None)


def test_newest_is_the_newest_written_and_lines_never_collide_or_rotate_each_other(tmp_path):
    # Line 1 reached step 30; a branch resumed at step 10 writes line 2 afterwards.
    line1 = [_save(tmp_path, step, sequence=seq) for seq, step in enumerate((10, 20, 30), 1)]
    line2 = [_save(tmp_path, step, line=2, sequence=seq) for seq, step in ((4, 20), (5, 30))]
    assert [p.name for p in line2] == ["step-00000020-pass-0000-v2", "step-00000030-pass-0000-v2"]
    assert parse_name(line2[0].name) == (20, 0, 2) and parse_name("step-1-pass-2") == (1, 2, 1)
    assert list_checkpoints(tmp_path) == line1 + line2
    assert list_checkpoints(tmp_path, line=2) == line2
    assert newest_valid(tmp_path, warn=pytest.fail)[0] == line2[-1]
    assert rotate_checkpoints(tmp_path, keep_last=1, line=2, protect=None) == line2[:1]
    assert list_checkpoints(tmp_path) == line1 + line2[1:]
    # Checkpoints written before sequence numbers (0) come first, by step.
    old = save_checkpoint(tmp_path, checkpoint_name(99, 9), {"w": np.zeros(1)}, {})
    assert list_checkpoints(tmp_path)[0] == old and sequence_of(old) == 0


def test_links_are_never_listed_or_deleted(tmp_path):
    target = _save(tmp_path / "elsewhere", 5)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / checkpoint_name(1, 0)).symlink_to(target, target_is_directory=True)
    real = _save(tmp_path / "run", 2)
    assert list_checkpoints(tmp_path / "run") == [real]
    assert rotate_checkpoints(tmp_path / "run", keep_last=1, line=1, protect=None) == []
    assert load_checkpoint(target)[1] == {"global_step": 5}


def test_leftovers_of_dead_processes_are_removed_others_kept(tmp_path):
    keep = _save(tmp_path, 1)
    dead = tmp_path / f".{checkpoint_name(2, 0)}.tmp-{2**22 + 12345}"  # above pid_max
    mine = tmp_path / f".{checkpoint_name(3, 0)}.old-{os.getpid()}"  # an earlier process's
    alive = tmp_path / f".{checkpoint_name(4, 0)}.del-{os.getppid()}"
    foreign = tmp_path / ".step-5-pass-0.something-1"
    for folder in (dead, mine, alive, foreign):
        folder.mkdir()
    assert sorted(remove_leftovers(tmp_path)) == sorted([dead, mine])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [keep.name, alive.name, foreign.name])


@pytest.mark.parametrize("file, payload", [
    ("meta.json", b"[" * 100_000 + b"]" * 100_000),  # deeper than the parser's recursion
    # unreadable manifests: no sequence number, so they sort as the oldest, yet by its name
    # this is the newest checkpoint, and resuming from the one before must say so
    ("manifest.json", b"{" + b" " * (2 << 20) + b"}"),  # beyond the manifest's size bound
    ("manifest.json", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
], ids=["nested-meta", "huge-manifest", "nested-manifest"])
def test_hostile_json_is_one_line_and_resume_falls_back_naming_it(tmp_path, file, payload):
    good = _save(tmp_path, 1, sequence=1)
    bad = _save(tmp_path, 2, sequence=2)
    if file == "meta.json":  # a hostile meta that its manifest vouches for
        manifest = json.loads((bad / "manifest.json").read_text())
        manifest["files"]["meta.json"] = {"size": len(payload),
                                          "sha256": hashlib.sha256(payload).hexdigest()}
        (bad / "manifest.json").write_text(json.dumps(manifest))
    (bad / file).write_bytes(payload)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(bad)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300
    warnings = []
    assert newest_valid(tmp_path, warn=warnings.append)[0] == good
    assert len(warnings) == 1 and bad.name in warnings[0] and "\n" not in warnings[0]


def test_an_unreadable_manifest_older_by_name_than_the_newest_is_not_reported(tmp_path):
    old = _save(tmp_path, 1, sequence=1)
    newest = _save(tmp_path, 2, sequence=2)
    (old / "manifest.json").write_bytes(b"{")
    assert newest_valid(tmp_path, warn=pytest.fail)[0] == newest


def test_find_on_missing_empty_or_all_broken_dir_names_it(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(CheckpointError, match=f"{_p(missing)}: no such checkpoint directory"):
        newest_valid(missing)
    with pytest.raises(CheckpointError, match=f"{_p(tmp_path)}: no checkpoints"):
        newest_valid(tmp_path)
    for step in (1, 2):
        (_save(tmp_path, step) / "meta.json").write_bytes(b"")
    warnings = []
    with pytest.raises(CheckpointError, match=f"{_p(tmp_path)}: none of its 2 checkpoints"):
        newest_valid(tmp_path, warn=warnings.append)
    assert len(warnings) == 2
