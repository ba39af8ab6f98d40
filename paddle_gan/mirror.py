"""The uploader: a run's local staging folder mirrored to its folder on a store, off the training
thread; and checkpoints fetched from a store for the tools.

A run whose output dir is a URL writes into a local staging folder exactly as into any output
folder (every guarantee of `storage`, its lock included). `Mirror.pull` first brings the store's
copy down (the store is the reference: a run resumed on another machine continues its files),
then a worker thread sends up what the run writes: a checkpoint when it is saved, a rotated
checkpoint's deletion, and every other file that changed (train.log, config.yaml, samples,
metrics.jsonl, VisualDL records) whenever `sync` is asked (the run asks at every pass end and at
the end). A store has no rename, so a checkpoint goes up as its files first and manifest.json
last, after the old manifest of that name was deleted: a folder on the store without a manifest
is never taken for a checkpoint, and `pull` and the tools skip it. Uploads run one at a time in
the order asked, each with `remote`'s retries; the first that fails for good stops them, and the
training thread hears of it at its next `check` (a StorageError: one line, exit 2). `close`
waits until everything asked is on the store. No wait is unbounded: a call to the store that
gets no answer within `timeouts.storage` seconds is such a failure too, seen by `check` and
`close` from the training thread while the uploader is still stuck in it; what was not sent
stays staged and goes up at the next start (`pull`).
"""
from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

from .checkpoint.files import ARRAYS, MANIFEST, META, list_checkpoints, parse_name, write_folder
from .remote import DEFAULT_DEADLINE, RemoteFolder, open_folder
from .storage import LOCK_NAME, StorageError, describe, local_folder

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
CHECKPOINT_FILES = (ARRAYS, META, MANIFEST)  # the order they go up in: the manifest last
WAIT_POLL_S = 0.5  # how often the end-of-run wait looks at the upload under way


def _checkpoints_on_store(files: Dict[str, int], under: str) -> Dict[str, Dict[str, int]]:
    """{checkpoint name: {file: size}} of the checkpoint folders directly below `under`."""
    found: Dict[str, Dict[str, int]] = {}
    prefix = f"{under}/" if under else ""
    for rel, size in files.items():
        parts = rel[len(prefix):].split("/") if rel.startswith(prefix) else []
        if len(parts) == 2 and parse_name(parts[0]) and parts[1] in CHECKPOINT_FILES:
            found.setdefault(parts[0], {})[parts[1]] = size
    return found


def _read_local(path: Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StorageError(f"cannot read {path} to upload it: {describe(err)}") from None


def pull_checkpoints(folder: RemoteFolder, files: Dict[str, int], under: str,
                     local_dir: Path) -> int:
    """Copy each complete checkpoint below `under` on the store into `local_dir` unless the
    local one has the same manifest; returns how many were fetched. One without a manifest (an
    upload that was cut off) is left alone."""
    fetched = 0
    for name, present in sorted(_checkpoints_on_store(files, under).items()):
        rel = f"{under}/{name}" if under else name
        if MANIFEST not in present:
            log.info(f"checkpoints: {folder.name}/{rel} has no {MANIFEST} (an interrupted "
                     "upload): not a checkpoint, skipped")
            continue
        manifest = folder.read(f"{rel}/{MANIFEST}")
        if _read_local(local_dir / name / MANIFEST) == manifest:
            continue
        data = {f: folder.read(f"{rel}/{f}") for f in CHECKPOINT_FILES[:-1] if f in present}
        write_folder(local_dir, name, {**data, MANIFEST: manifest})
        fetched += 1
    return fetched


def fetch_checkpoints(url: str, cache_root: Path, options: Optional[dict] = None,
                      deadline: float = DEFAULT_DEADLINE) -> Path:
    """For the tools and --resume: the checkpoint, checkpoints folder or run dir `url` names,
    copied into the local cache (complete checkpoints only); returns the local folder that stands
    for `url`."""
    folder = open_folder(url, options, deadline)
    files = folder.files()
    local = local_folder(url, cache_root, "read")
    if MANIFEST in files:  # one checkpoint folder
        data = {f: folder.read(f) for f in CHECKPOINT_FILES if f in files}
        write_folder(local.parent, local.name, data)
        return local
    under = CHECKPOINTS if any(r.startswith(f"{CHECKPOINTS}/") for r in files) else ""
    pull_checkpoints(folder, files, under, local / under if under else local)
    return local


def _staged(name: str) -> bool:
    """A file of the staging folder the generic sync sends (checkpoints go their own way; the
    lock and half-written temporaries never go)."""
    first = name.split("/")[0]
    base = name.rsplit("/", 1)[-1]
    return first not in (CHECKPOINTS, LOCK_NAME) and not (base.startswith(".") and ".tmp" in base)


class Mirror:
    """Uploads the staging folder `staging` to the store's folder `url` (see the docstring)."""

    def __init__(self, url: str, staging: Path, options: Optional[dict] = None,
                 deadline: float = DEFAULT_DEADLINE):
        self.folder = open_folder(url, options, deadline)
        self.staging = Path(staging)
        self.error: Optional[BaseException] = None  # the upload that failed for good
        self._sent: Dict[str, Tuple[int, int]] = {}  # staged file -> (size, mtime) on the store
        self._queue: queue.Queue[Optional[Callable[[], None]]] = queue.Queue()
        self._thread: Optional[threading.Thread] = None

    @property
    def name(self) -> str:
        return self.folder.name

    # --- the training thread's side ------------------------------------------------------------

    def pull(self) -> None:
        """Before the run: reach the store (one StorageError line if it cannot be reached or
        refuses the credentials), bring its files into the staging folder, then start the
        uploads, beginning with what the staging folder holds that the store lacks."""
        files = self.folder.files()
        local_ckpts = self.staging / CHECKPOINTS
        fetched = pull_checkpoints(self.folder, files, CHECKPOINTS, local_ckpts)
        others = {rel: size for rel, size in files.items() if _staged(rel)}
        for rel, size in sorted(others.items()):
            # Files are only appended to or rewritten the same: the larger copy is the newer.
            target = self.staging.joinpath(*rel.split("/"))
            if not target.is_file() or target.stat().st_size < size:
                self.folder.download(rel, target)
                fetched += 1
            stat = target.stat()
            if stat.st_size == size:
                self._sent[rel] = (stat.st_size, stat.st_mtime_ns)
        if fetched:
            log.info(f"storage: {fetched} files of {self.name} brought into {self.staging}")
        on_store = _checkpoints_on_store(files, CHECKPOINTS)
        self._thread = threading.Thread(target=self._work, name="paddle_gan-uploads", daemon=True)
        self._thread.start()
        for path in list_checkpoints(local_ckpts):  # saved here, never sent (a failed upload)
            if MANIFEST not in on_store.get(path.name, {}):
                self.push_checkpoint(path)
        self.sync()

    def push_checkpoint(self, path: Path) -> None:
        """Send the checkpoint folder `path` (in the staging folder's checkpoints)."""
        self._queue.put(lambda: self._send_checkpoint(Path(path)))

    def delete_checkpoint(self, path: Path) -> None:
        """Delete the store's copy of the rotated checkpoint `path`."""
        self._queue.put(lambda: self._delete_checkpoint(Path(path).name))

    def sync(self) -> None:
        """Send every other file of the staging folder that changed since it was last sent."""
        self._queue.put(self._send_changed)

    def wait(self) -> None:
        """Block until every upload asked so far is done (or failed)."""
        self._queue.join()

    def check(self) -> None:
        """Raise the StorageError of an upload that failed for good, or that got no answer
        within the deadline (the run stops on it)."""
        if self.error is None:
            self.error = self.folder.overdue()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Send what changed, wait until every upload asked is done, stop the worker; raise the
        StorageError of one that failed or got no answer within the deadline."""
        if self._thread is not None:
            if self.error is None:
                self.sync()
            self._queue.put(None)
            while self._thread.is_alive():
                self._thread.join(WAIT_POLL_S)
                if self._thread.is_alive():
                    self.check()  # a store that stopped answering: no endless wait
            self._thread = None
        self.check()

    # --- the worker thread ---------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            try:
                if task is None:
                    return
                if self.error is None:  # after a failure nothing more is sent
                    task()
            except Exception as err:  # handed to the training thread
                self.error = err if isinstance(err, StorageError) else StorageError(
                    f"cannot upload to {self.name}: {type(err).__name__}: {err}")
                log.error(f"storage: uploads to {self.name} stopped: {self.error}")
            finally:
                self._queue.task_done()

    def _send_checkpoint(self, path: Path) -> None:
        data = {name: _read_local(path / name) for name in CHECKPOINT_FILES}
        if data[MANIFEST] is None:
            return  # rotated away (or replaced) before its turn: its deletion follows
        rel = f"{CHECKPOINTS}/{path.name}"
        self.folder.delete(f"{rel}/{MANIFEST}")  # an old manifest must not vouch for new files
        for name in CHECKPOINT_FILES:  # the manifest last: until it is there, no checkpoint
            raw = data[name]
            if raw is not None:
                self.folder.write(f"{rel}/{name}", raw)

    def _delete_checkpoint(self, name: str) -> None:
        rel = f"{CHECKPOINTS}/{name}"
        self.folder.delete(f"{rel}/{MANIFEST}")  # first: a half-deleted folder is no checkpoint
        self.folder.delete(rel)

    def _send_changed(self) -> None:
        for path in sorted(self.staging.rglob("*")):
            rel = path.relative_to(self.staging).as_posix()
            if not _staged(rel) or not path.is_file() or path.is_symlink():
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # replaced under us: the next sync sends it
            if self._sent.get(rel) == (stat.st_size, stat.st_mtime_ns):
                continue
            data = _read_local(path)
            if data is not None:
                self.folder.write(rel, data)
                self._sent[rel] = (stat.st_size, stat.st_mtime_ns)
