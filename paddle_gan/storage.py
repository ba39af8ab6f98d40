"""Where a run's files go: the one place their writes turn an `OSError` into one line, the lock
that keeps one run per output folder, and which folder on this machine stands for a URL.

Every file the run writes (checkpoints, pictures, metrics, logs, settings) is written through
`writing(what, path)` or the helpers built on it, so a full disk, a read-only folder or an
output "folder" that is a file stops the run with a `StorageError`: one line saying what was
being written, where, and why in words (exit code 2), never a traceback. Whole files are written
under a temporary name and renamed into place, so a failed write leaves the previous file, not
half of a new one.

`RunLock` is an OS-level lock (`flock`) on `<output_dir>/.lock`, held for the whole run: the
kernel drops it when the process ends in any way (kill -9 included), so a dead run never leaves
its folder locked; a second run on a locked folder stops naming the other's PID and host.

A folder may also be named by a URL (`s3://bucket/prefix`, `hdfs://host/path`, ...; `file://`
is a plain path). The run never writes to the store directly: it works in a local folder that
`local_folder` derives from the URL (a staging folder for outputs, a cache for data), with every
guarantee above, and `paddle_gan.remote` / `paddle_gan.mirror` move files between the two.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import socket
import time
from pathlib import Path
from types import ModuleType
from typing import Iterator, Optional, cast
from urllib.parse import urlsplit

from .errors import UsageError

fcntl: Optional[ModuleType]  # a module or None: the type checker cannot say so of an import
try:
    import fcntl as _fcntl

    fcntl = _fcntl
except ImportError:  # Windows: no flock; the run goes on unlocked (docs/reliability.md)
    fcntl = None

LOCK_NAME = ".lock"
REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.EEXIST: "a file of that name is in the way",
    errno.ENOENT: "no such file or folder",
    errno.EFBIG: "file too large (a file size limit is set)",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EIO: "input/output error (a failing disk?)",
}


class StorageError(UsageError):
    """A file or folder of the run cannot be written or read (locally or on a store), or the
    folder is locked (exit code 2)."""


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(name) -> Optional[str]:
    """The lower-case scheme of `name` when it is a URL (`s3://...` -> "s3"), else None."""
    match = _SCHEME_RE.match(str(name))
    return match.group(1).lower() if match else None


def is_remote(name) -> bool:
    """True for a URL of a store (`s3://`, `hdfs://`, ...); plain paths and `file://` are local."""
    return url_scheme(name) not in (None, "file")


def local_path(name) -> Path:
    """A plain path or a `file://` URL as a Path (a store's URL is not one: see local_folder)."""
    if url_scheme(name) == "file":
        return Path(urlsplit(str(name)).path)
    return Path(name)


def local_folder(url: str, root, kind: str) -> Path:
    """The folder on this machine that stands for the store's folder `url`:
    `<root>/<kind>/<scheme>/<host>/<path>` (kind: "runs" for staged outputs, "data" for cached
    data, "read" for checkpoints the tools fetch). The same URL always gives the same folder, so
    a second run finds its cache, and two runs of one URL on one machine share one lock."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}_{parts.port}"
    names = [name for name in parts.path.split("/") if name not in ("", ".")]
    if ".." in names or host in ("", ".", ".."):
        raise StorageError(f"{redact(url)}: a store's URL needs a host or bucket and no '..' in "
                           "its path")
    scheme = cast(str, url_scheme(url))  # a store's URL (the callers check): it has one
    return Path(root) / kind / scheme / host / Path(*names)


def redact(url) -> str:
    """`url` with any password taken out (`hdfs://user:secret@host` -> `hdfs://user:***@host`),
    for messages and logs."""
    parts = urlsplit(str(url))
    if parts.password is None:
        return str(url)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def describe(err: OSError) -> str:
    """Why an OSError happened, in words, with its errno name: 'no space left ... (ENOSPC)'."""
    known = REASONS.get(err.errno) if err.errno is not None else None
    reason = known or err.strerror or str(err) or type(err).__name__
    code = errno.errorcode.get(err.errno) if err.errno else None
    return f"{reason} ({code})" if code else reason


@contextlib.contextmanager
def writing(what: str, path) -> Iterator[None]:
    """Turn an OSError inside into a StorageError naming `what` and `path`."""
    try:
        yield
    except OSError as err:
        raise StorageError(f"cannot write {what} {path}: {describe(err)}") from None


def make_folder(path, what: str = "folder") -> Path:
    path = Path(path)
    with writing(what, path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def write_bytes(path, data: bytes, what: str = "file") -> Path:
    """Write a whole file: under a temporary name, then renamed over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with writing(what, path):
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
    return path


def append_text(path, text: str, what: str = "file") -> None:
    """Append `text`; a failed append is cut back off, so the file never ends in half a line."""
    path = Path(path)
    data = memoryview(text.encode("utf-8"))
    with writing(what, path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                while data:  # unbuffered: a partial write is seen, and can be taken back
                    data = data[os.write(fd, data):]
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)


class RunLock:
    """The lock on one output folder, for one run (see the module docstring)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: Optional[int] = None
        self._previous = b""  # what the file said before this run took it

    def acquire(self) -> bool:
        """Lock the folder (False where the OS has no flock); StorageError if another run holds
        it or it cannot be written."""
        if fcntl is None:
            return False
        make_folder(self.folder, "output dir")
        with writing("the run's lock file", self.path):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StorageError(
                    f"cannot lock output dir {self.folder}: {describe(err)}") from None
            raise StorageError(f"output dir {self.folder} is in use by another run "
                               f"({self.holder()}); wait for it to end, or choose another "
                               "--output_dir") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        with writing("the run's lock file", self.path):
            self._previous = os.read(fd, 4096)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(holder).encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """Who holds the lock, as its file says ('PID 12 on host h, since ...')."""
        try:
            with open(self.path, "rb") as f:
                info = json.loads(f.read(4096).decode("utf-8"))
            return (f"PID {int(info['pid'])} on host {str(info['host'])[:100]}, since "
                    f"{str(info['started'])[:40]}")
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return "its lock file does not say which"

    def release(self, restore: bool = False) -> None:
        """Unlock; with `restore`, the file says again what it said before (a run that was
        refused leaves the folder as it found it)."""
        # The file stays: deleting it would race with a run that has just opened it.
        if self._fd is not None:
            if restore:
                with contextlib.suppress(OSError):
                    os.lseek(self._fd, 0, os.SEEK_SET)
                    os.ftruncate(self._fd, 0)
                    os.write(self._fd, self._previous)
            os.close(self._fd)
            self._fd = None
