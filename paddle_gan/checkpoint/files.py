"""The checkpoint files: how one checkpoint folder is written, verified, found and rotated.

A checkpoint is a folder `<directory>/step-XXXXXXXX-pass-YYYY/` holding `arrays.npz` (every tensor,
read back with `allow_pickle=False`), `meta.json` (everything else, plain JSON) and `manifest.json`
(size and SHA-256 of both). Neither format can run code on load, so a checkpoint from anywhere is
safe to open; the manifest catches truncation and corruption before anything is parsed. A folder is
built under a hidden temporary name, fsynced, then renamed into place, so a crash never leaves a
half-written checkpoint under a final name. What goes *into* one is `train_state`'s business.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Callable, Tuple
from urllib.parse import quote, unquote

import numpy as np

from ..errors import CheckpointError

ARRAYS, META, MANIFEST = "arrays.npz", "meta.json", "manifest.json"
FORMAT = "paddle_gan.checkpoint/1"
# Hidden (dot) temp/old folders never match, so list/find ignore any crash leftovers.
_NAME_RE = re.compile(r"^step-(\d+)-pass-(\d+)$")
# Keys become zip member names: quoting keeps "/" out of the zip path and the "k_" prefix keeps
# them clear of np.savez's own keyword arguments (file, allow_pickle).
_KEY_PREFIX = "k_"


def checkpoint_name(global_step: int, pass_id: int) -> str:
    """Folder name of a checkpoint: `step-00012345-pass-0003` (zero-padded so `ls` sorts it too;
    `list_checkpoints` sorts numerically by (step, pass), so wider numbers are still fine)."""
    if global_step < 0 or pass_id < 0:
        raise ValueError(f"negative step/pass: {global_step}, {pass_id}")
    return f"step-{int(global_step):08d}-pass-{int(pass_id):04d}"


def _one_line(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())


def _write_synced(path: Path, data: bytes) -> dict:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _fsync_dir(path: Path) -> None:
    # Makes the renames themselves durable; directories cannot be opened on Windows, so skip there.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(directory, name: str, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write `directory/name/` atomically (replacing an existing one safely); return its path."""
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"checkpoint name must be a plain, visible folder name: {name!r}")
    directory, final = Path(directory), Path(directory) / name
    encoded = {}
    for key, value in arrays.items():
        value = np.asarray(value)
        if not isinstance(key, str) or not key or value.dtype.hasobject:
            raise CheckpointError(f"{final}: array {key!r} is not a named numeric array")
        encoded[_KEY_PREFIX + quote(key, safe="")] = value
    try:
        meta_bytes = json.dumps(meta, indent=1).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{final}: meta is not JSON-serialisable ({_one_line(e)})") from None
    buf = io.BytesIO()
    np.savez(buf, **encoded)

    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp-{os.getpid()}"
    old = directory / f".{name}.old-{os.getpid()}"
    for leftover in (tmp, old):  # from an earlier crash of a process with this same pid
        shutil.rmtree(leftover, ignore_errors=True)
    tmp.mkdir()
    try:
        files = {ARRAYS: _write_synced(tmp / ARRAYS, buf.getvalue()),
                 META: _write_synced(tmp / META, meta_bytes)}
        _write_synced(tmp / MANIFEST,
                      json.dumps({"format": FORMAT, "files": files}, indent=1).encode())
        _fsync_dir(tmp)
        if final.exists():
            os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old, final)  # put the previous checkpoint back under its name
                raise
        else:
            os.replace(tmp, final)
        _fsync_dir(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return final


def _read_verified(path: Path, fname: str, entry) -> bytes:
    if not isinstance(entry, dict) or Path(fname).name != fname or fname.startswith("."):
        raise CheckpointError(f"{path}: manifest entry {fname!r} is malformed")
    try:
        data = (path / fname).read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read {fname} ({_one_line(e)})") from None
    if len(data) != entry.get("size"):
        raise CheckpointError(f"{path}: {fname} is {len(data)} bytes, manifest says "
                              f"{entry.get('size')} (truncated or replaced)")
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise CheckpointError(f"{path}: {fname} SHA-256 does not match the manifest (corrupted)")
    return data  # the verified bytes are parsed, so the file cannot change between check and use


def load_checkpoint(path) -> tuple[dict[str, np.ndarray], dict]:
    """Verify and read a checkpoint folder; any problem is a one-line CheckpointError."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint folder")
    try:
        manifest = json.loads((path / MANIFEST).read_text("utf-8"))
        if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
            raise ValueError(f"not a {FORMAT} manifest")
    except (OSError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{path}: bad {MANIFEST} ({_one_line(e)})") from None
    if not {ARRAYS, META} <= manifest["files"].keys():
        raise CheckpointError(f"{path}: {MANIFEST} does not list both {ARRAYS} and {META}")
    raw = {f: _read_verified(path, f, entry) for f, entry in manifest["files"].items()}
    raw_arrays, raw_meta = raw[ARRAYS], raw[META]
    try:
        # allow_pickle=False: an object array raises instead of unpickling (running) its payload.
        if not zipfile.is_zipfile(io.BytesIO(raw_arrays)):
            raise ValueError("not an npz (zip) archive")
        with np.load(io.BytesIO(raw_arrays), allow_pickle=False) as npz:
            arrays = {}
            for member in npz.files:
                if not member.startswith(_KEY_PREFIX):
                    raise ValueError(f"unexpected member {member!r}")
                arrays[unquote(member[len(_KEY_PREFIX):])] = npz[member]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path}: unreadable {ARRAYS} ({_one_line(e)})") from None
    try:
        meta = json.loads(raw_meta.decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("top level is not an object")
    except ValueError as e:
        raise CheckpointError(f"{path}: bad {META} ({_one_line(e)})") from None
    return arrays, meta


def list_checkpoints(directory) -> list[Path]:
    """Checkpoint folders in `directory`, oldest to newest by (step, pass); [] if it is missing."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(tuple(map(int, m.groups())), p) for p in directory.iterdir()
             if (m := _NAME_RE.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def newest_valid(directory, warn: Callable[[str], object] = print
                 ) -> Tuple[Path, dict[str, np.ndarray], dict]:
    """(path, arrays, meta) of the newest checkpoint that loads cleanly, each candidate read
    once; unusable newer ones are reported through `warn`."""
    if not Path(directory).is_dir():
        raise CheckpointError(f"{directory}: no such checkpoint directory")
    candidates = list_checkpoints(directory)
    if not candidates:
        raise CheckpointError(f"{directory}: no checkpoints in this directory")
    for path in reversed(candidates):
        try:
            return (path, *load_checkpoint(path))
        except CheckpointError as e:
            warn(f"skipping unusable checkpoint {path.name}: {e}")
    raise CheckpointError(f"{directory}: none of its {len(candidates)} checkpoints is valid")


def rotate_checkpoints(directory, keep_last: int, protect: Path | None) -> list[Path]:
    """Delete all but the newest `keep_last` checkpoints, never `protect`; return the deleted."""
    if keep_last < 1:
        raise ValueError(f"keep_last must be >= 1, got {keep_last}")
    keep = Path(protect).resolve() if protect is not None else None
    deleted = []
    for path in list_checkpoints(directory)[:-keep_last]:
        if path.resolve() == keep:
            continue
        # Rename first so a crash mid-delete leaves a hidden leftover, not a half-deleted
        # checkpoint that resume would have to warn about.
        doomed = path.with_name(f".{path.name}.del-{os.getpid()}")
        os.replace(path, doomed)
        shutil.rmtree(doomed)
        deleted.append(path)
    return deleted
