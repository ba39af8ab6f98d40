"""The checkpoint files: how one checkpoint folder is written, verified, found and rotated.

A checkpoint is a folder `<directory>/step-XXXXXXXX-pass-YYYY[-vN]/` holding `arrays.npz` (every
tensor, read back with `allow_pickle=False`), `meta.json` (everything else, plain JSON) and
`manifest.json` (size and SHA-256 of both, and the checkpoint's sequence number). Neither format
can run code on load, so a checkpoint from anywhere is safe to open; the manifest catches
truncation and corruption before anything is parsed, and every read is bounded. A folder is built
under a hidden temporary name, fsynced, then renamed into place, so a crash never leaves a
half-written checkpoint under a final name.

Names cannot collide: the `-vN` suffix is the checkpoint's line (a run that branched off an older
checkpoint writes line 2, 3, ...; the first line has no suffix), and the sequence number orders
checkpoints by when they were written, which is what "newest" means here (checkpoints written
before sequence numbers count as 0, ordered among themselves by step). What goes *into* a
checkpoint is `train_state`'s business; which line a run writes is the `Checkpointer`'s.
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
from typing import Callable, Dict, Tuple
from urllib.parse import quote, unquote

import numpy as np

from ..errors import CheckpointError
from ..storage import writing

ARRAYS, META, MANIFEST = "arrays.npz", "meta.json", "manifest.json"
FORMAT = "paddle_gan.checkpoint/1"
# Hidden (dot) temp/old folders never match, so list/find ignore any crash leftovers.
_NAME_RE = re.compile(r"^step-(\d+)-pass-(\d+)(?:-v(\d+))?$")
_LEFTOVER_RE = re.compile(r"^\.step-\d+-pass-\d+(?:-v\d+)?\.(?:tmp|old|del)-(\d+)$")
MAX_MANIFEST_BYTES = 1 << 20  # a manifest lists three files; anything bigger is not ours
# Keys become zip member names: quoting keeps "/" out of the zip path and the "k_" prefix keeps
# them clear of np.savez's own keyword arguments (file, allow_pickle).
_KEY_PREFIX = "k_"


def checkpoint_name(global_step: int, pass_id: int, line: int = 1) -> str:
    """Folder name of a checkpoint: `step-00012345-pass-0003`, `-v2` added for line 2 (zero-padded
    so `ls` sorts it; wider numbers still work, everything here parses them as numbers)."""
    if global_step < 0 or pass_id < 0 or line < 1:
        raise ValueError(f"bad step/pass/line: {global_step}, {pass_id}, {line}")
    suffix = f"-v{int(line)}" if line > 1 else ""
    return f"step-{int(global_step):08d}-pass-{int(pass_id):04d}{suffix}"


def parse_name(name: str):
    """(step, pass, line) of a checkpoint folder name, or None for any other name."""
    match = _NAME_RE.match(name)
    if not match:
        return None
    step, pass_id, line = match.groups()
    return int(step), int(pass_id), int(line or 1)


def _one_line(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


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


def save_checkpoint(directory, name: str, arrays: dict[str, np.ndarray], meta: dict,
                    sequence: int = 0) -> Path:
    """Write `directory/name/` atomically (replacing an existing one safely); return its path.
    `sequence` orders it among the folder's checkpoints (see `list_checkpoints`)."""
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
    # NumPy's stub lets a **mapping's key be allow_pickle (a bool); these keys are prefixed
    np.savez(buf, **encoded)  # type: ignore[arg-type]
    data = {ARRAYS: buf.getvalue(), META: meta_bytes}
    files = {fname: {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
             for fname, raw in data.items()}
    manifest = {"format": FORMAT, "files": files, "sequence": int(sequence)}
    data[MANIFEST] = json.dumps(manifest, indent=1).encode()
    return write_folder(directory, name, data)


def write_folder(directory, name: str, files: Dict[str, bytes]) -> Path:
    """Write the folder `directory/name` holding `files` (name -> bytes, the manifest among
    them) atomically, replacing one of that name safely: what a save writes, and what a copy of
    a checkpoint fetched from a store is written with."""
    directory = Path(directory)
    final = directory / name
    with writing("checkpoint", final):
        _write_folder(directory, name, files)
    return final


def _write_folder(directory: Path, name: str, files: Dict[str, bytes]) -> None:
    final = directory / name
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp-{os.getpid()}"
    old = directory / f".{name}.old-{os.getpid()}"
    for leftover in (tmp, old):  # from an earlier crash of a process with this same pid
        shutil.rmtree(leftover, ignore_errors=True)
    tmp.mkdir()
    try:
        for fname in sorted(files, key=lambda f: f == MANIFEST):  # the manifest last
            _write_synced(tmp / fname, files[fname])
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


def _read_verified(path: Path, fname: str, entry) -> bytes:
    if (not isinstance(entry, dict) or Path(fname).name != fname or fname.startswith(".")
            or not isinstance(entry.get("size"), int)):
        raise CheckpointError(f"{path}: manifest entry {fname!r} is malformed")
    try:
        with open(path / fname, "rb") as f:
            data = f.read(entry["size"] + 1)  # one byte more than promised shows a longer file
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read {fname} ({_one_line(e)})") from None
    if len(data) != entry.get("size"):
        raise CheckpointError(f"{path}: {fname} is {len(data)} bytes, manifest says "
                              f"{entry.get('size')} (truncated or replaced)")
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise CheckpointError(f"{path}: {fname} SHA-256 does not match the manifest (corrupted)")
    return data  # the verified bytes are parsed, so the file cannot change between check and use


def read_manifest(path: Path) -> dict:
    """The manifest of a checkpoint folder, read with bounds (size, nesting)."""
    try:
        with open(path / MANIFEST, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise ValueError(f"larger than {MAX_MANIFEST_BYTES} bytes")
        manifest = json.loads(raw.decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(
                manifest.get("files"), dict):
            raise ValueError(f"not a {FORMAT} manifest")
    except (OSError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: bad {MANIFEST} ({_one_line(e)})") from None
    return manifest


def sequence_of(path: Path) -> int:
    """When a checkpoint was written, relative to the others of its folder (0: before sequence
    numbers existed; -1: its manifest is unreadable, so it is tried last)."""
    try:
        sequence = read_manifest(path).get("sequence", 0)
    except CheckpointError:
        return -1
    return sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else -1


def load_checkpoint(path) -> tuple[dict[str, np.ndarray], dict]:
    """Verify and read a checkpoint folder; any problem is a one-line CheckpointError."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint folder")
    manifest = read_manifest(path)
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
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: bad {META} ({_one_line(e)})") from None
    return arrays, meta


def list_checkpoints(directory, line: int | None = None) -> list[Path]:
    """Checkpoint folders in `directory` (of one `line`, or all), in the order they were written
    (sequence number, then step and pass); [] if it is missing. Links are not listed: nothing
    here may delete or prefer what it did not write."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        parsed = parse_name(path.name)
        if parsed and path.is_dir() and not path.is_symlink() and line in (None, parsed[2]):
            found.append(((sequence_of(path), parsed[0], parsed[1], parsed[2]), path))
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
            found = (path, *load_checkpoint(path))
        except CheckpointError as e:
            warn(f"skipping unusable checkpoint {path.name}: {e}")
            continue
        _warn_unordered_newer(candidates, path, warn)
        return found
    raise CheckpointError(f"{directory}: none of its {len(candidates)} checkpoints is valid")


def _warn_unordered_newer(candidates, chosen: Path, warn) -> None:
    """A checkpoint whose manifest cannot be read has no sequence number, so it sorts as the
    oldest and is never tried before `chosen`: name those of a later step, which may well be the
    newest (a save cut short, a damaged disk)."""
    step = parse_name(chosen.name)[:2]
    for path in candidates:
        if parse_name(path.name)[:2] <= step:
            continue
        try:
            read_manifest(path)
        except CheckpointError as e:
            warn(f"skipping unusable checkpoint {path.name}: {e}")


def rotate_checkpoints(directory, keep_last: int, line: int, protect: Path | None) -> list[Path]:
    """Delete all but the newest `keep_last` checkpoints of `line` (never another line's, never
    `protect`); return the deleted."""
    if keep_last < 1:
        raise ValueError(f"keep_last must be >= 1, got {keep_last}")
    keep = Path(protect).resolve() if protect is not None else None
    deleted = []
    for path in list_checkpoints(directory, line)[:-keep_last]:
        if path.resolve() == keep:
            continue
        # Rename first so a crash mid-delete leaves a hidden leftover, not a half-deleted
        # checkpoint that resume would have to warn about.
        doomed = path.with_name(f".{path.name}.del-{os.getpid()}")
        with writing("checkpoint folder (deleting)", path):
            os.replace(path, doomed)
            shutil.rmtree(doomed)
        deleted.append(path)
    return deleted


def remove_leftovers(directory) -> list[Path]:
    """Delete the hidden temporary folders an interrupted save or delete left behind: only ours
    (by name), and only of processes no longer running (by the PID in the name)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for path in directory.iterdir():
        match = _LEFTOVER_RE.match(path.name)
        if match and path.is_dir() and not path.is_symlink() and not _alive(int(match.group(1))):
            with writing("leftover folder (deleting)", path):
                shutil.rmtree(path)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers are from an earlier process that had our PID
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such PID at all)
        return False
    except PermissionError:  # someone else's process
        return True
    return True
