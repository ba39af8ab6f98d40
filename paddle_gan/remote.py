"""A folder on a store (S3, HDFS, WebHDFS) through fsspec: one small interface, `RemoteFolder`,
with retries and one-line errors, and the two whole-folder copies built on it (data down into a
cache, a local folder up to the store).

fsspec is the library chosen, because it is the Python ecosystem's one file-system interface over
every store teams use: s3fs for S3 and S3-compatible stores (credentials and endpoint from the
usual AWS_* variables, AWS_ENDPOINT_URL, ~/.aws, or `storage_options`), pyarrow's
HadoopFileSystem for hdfs:// (Hadoop's libhdfs) and its own plain-HTTP client for webhdfs://;
it also reads its own configuration files (~/.config/fsspec). It is imported only when a URL is
used, so training on local disk needs none of it (the `[remote]` extra installs it).

Every call to the store goes through `RemoteFolder._call`: a failure that may pass (a refused
connection, a timeout, a server error) is tried again after each of `RETRY_DELAYS`, as long as
the call's deadline (`timeouts.storage`) leaves time; what cannot pass (wrong credentials, no
such bucket) and the last failure are a `StorageError`, one line that says what was being done,
where and why. URLs are shown without a password. A store that accepts a connection and never
answers is bounded too: S3's client gets explicit connect and read timeouts and one retry of its
own (`S3_DEFAULTS`, which `storage_options` override key by key), and s3fs's own retry loop is
left to ours.
"""
from __future__ import annotations

import contextlib
import errno
import importlib.util
import logging
import os
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

from .errors import DataError, shorten
from .storage import StorageError, make_folder, redact, url_scheme, writing
from .storage import describe as describe_os

log = logging.getLogger(__name__)

INSTALL_REMOTE = 'pip install -e ".[remote]"'
# scheme -> (the module fsspec needs for it, how to get it)
SCHEMES = {
    "s3": ("s3fs", INSTALL_REMOTE),
    "s3a": ("s3fs", INSTALL_REMOTE),
    "webhdfs": ("fsspec", INSTALL_REMOTE),
    "hdfs": ("pyarrow", "pip install pyarrow, and Hadoop's client (libhdfs) on this machine: "
             "docs/storage.md"),
}
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)  # seconds before each new try: 5 tries over 15 s
DEFAULT_DEADLINE = 180.0  # seconds a call may take, retries included (timeouts.storage)
# botocore's timeouts and retries for s3:// (a frozen store would otherwise hold each try for
# minutes); `storage_options` given by the user override these key by key
S3_DEFAULTS = {"config_kwargs": {"connect_timeout": 10, "read_timeout": 30,
                                 "retries": {"max_attempts": 2, "mode": "standard"}}}
# Failures that no retry mends: the store answered, and the answer is no.
PERMANENT = (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
             FileExistsError, ValueError, TypeError, ImportError)
PERMANENT_NAMES = ("NoCredentialsError", "PartialCredentialsError")  # botocore's, not OSErrors
# What is never copied up: the data checksum cache is valid on its own machine only (it holds
# modification times), and temporary files are someone's half-written ones.
NOT_UPLOADED = (".paddle_gan-verified.json",)


def describe(err: BaseException) -> str:
    """Why a call to the store failed, in one line: the store's or library's message and the
    kind of error; for a refusal, where credentials come from."""
    text = shorten(str(err), 200) or "no message"
    why = f"{text} ({type(err).__name__})"
    if isinstance(err, PermissionError) or type(err).__name__ in PERMANENT_NAMES:
        why += ("; check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, "
                "or storage_options)")
    return why


def _permanent(err: BaseException) -> bool:
    # s3fs turns most refusals into an OSError with the errno of their meaning (an invalid
    # bucket name: EINVAL)
    refused = isinstance(err, OSError) and err.errno in (errno.EINVAL, errno.EACCES, errno.EPERM,
                                                          errno.ENOENT, errno.EROFS)
    return refused or isinstance(err, PERMANENT) or type(err).__name__ in PERMANENT_NAMES


class RemoteFolder:
    """The store's folder `url`; names inside it are relative, with "/" (`checkpoints/x/y`)."""

    def __init__(self, url: str, fs, root: str, deadline: float = DEFAULT_DEADLINE):
        self.url, self.fs, self.root = url.rstrip("/"), fs, root.rstrip("/")
        self.name = redact(self.url)
        self.deadline = deadline  # seconds one call may take, its retries included
        # the call under way, for a thread that waits on it: (what, where, since, last failure)
        self.in_progress: Optional[Tuple[str, str, float, str]] = None

    def path(self, rel: str = "") -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def _call(self, doing: str, rel: str, fn: Callable, *args, **kwargs):
        """fn(*args, **kwargs), tried again while its failure may pass; else one StorageError
        line: `cannot <doing> <url>/<rel>: <why>`."""
        where = f"{self.name}/{rel}" if rel else self.name
        start = time.monotonic()
        self.in_progress = (doing, where, start, "")
        try:
            for tries, delay in enumerate((*RETRY_DELAYS, None), 1):
                try:
                    return fn(*args, **kwargs)
                except Exception as err:  # a store's library raises its own kinds
                    late = delay is not None and time.monotonic() - start + delay > self.deadline
                    if _permanent(err) or delay is None or late:
                        how = "" if _permanent(err) else f" (after {tries} tries in " \
                            f"{time.monotonic() - start:.0f} s)"
                        raise StorageError(f"cannot {doing} {where}: {describe(err)}{how}") \
                            from None
                    log.warning(f"storage: could not {doing} {where} ({describe(err)}); trying "
                                f"again in {delay:g} s")
                    self.in_progress = (doing, where, start, describe(err))
                    time.sleep(delay)
        finally:
            self.in_progress = None

    def overdue(self) -> Optional[StorageError]:
        """The error of a call under way longer than the deadline (a store that stopped
        answering), for the thread waiting on it; None while it may still answer."""
        current = self.in_progress
        if current is None or time.monotonic() - current[2] <= self.deadline:
            return None
        doing, where, _, last = current
        why = f"; the last failure: {last}" if last else ""
        return StorageError(f"cannot {doing} {where}: the store did not answer within "
                            f"{self.deadline:g} s (timeouts.storage){why}")

    def files(self) -> Dict[str, int]:
        """Every file below the folder, relative name -> size; {} when the folder does not exist
        yet (the store itself must answer: an unreachable store or a missing bucket fails)."""

        def listing():
            self.fs.invalidate_cache()
            try:
                self.fs.info(self.root)  # raises what reaching the store raises
            except FileNotFoundError:
                # Not there yet; but a missing bucket is FileNotFoundError too: the top must be.
                self.fs.ls(self.root.split("/")[0] or "/")
                return {}
            found = self.fs.find(self.root, detail=True)
            prefix = self.fs._strip_protocol(self.root).rstrip("/") + "/"
            return {name[len(prefix):]: int(info.get("size") or 0) for name, info in found.items()
                    if info.get("type") != "directory" and name.startswith(prefix)}

        return self._call("list", "", listing)

    def read(self, rel: str) -> bytes:
        return self._call("read", rel, self.fs.cat_file, self.path(rel))

    def write(self, rel: str, data: bytes) -> None:
        self._call("write", rel, self.fs.pipe_file, self.path(rel), data)

    def delete(self, rel: str) -> None:
        """Delete a file or a whole folder; one already gone is fine."""

        def delete():
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(self.path(rel), recursive=True)

        self._call("delete", rel, delete)

    def download(self, rel: str, dest: Path) -> None:
        """The file `rel` into `dest`, under a temporary name first, so `dest` is never half
        a file."""
        make_folder(dest.parent, "folder")
        tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
        try:
            self._call("read", rel, self.fs.get_file, self.path(rel), str(tmp))
            with writing("downloaded file", dest):
                os.replace(tmp, dest)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _with_defaults(scheme: str, options: Optional[dict]) -> dict:
    """`storage_options` over the scheme's defaults, merged key by key."""
    merged = dict(S3_DEFAULTS) if scheme in ("s3", "s3a") else {}
    for key, value in (options or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = {**merged[key], **value}
        merged[key] = value
    return merged


def open_folder(url: str, options: Optional[dict] = None,
                deadline: float = DEFAULT_DEADLINE) -> RemoteFolder:
    """The store's folder `url` (s3://, s3a://, hdfs://, webhdfs://), with fsspec's
    `storage_options` (over `S3_DEFAULTS` for S3) and `deadline` seconds for each call. A
    StorageError when the scheme is unknown, what it needs is not installed, or fsspec cannot
    set it up; the store is first reached by the first call."""
    scheme, name = url_scheme(url), redact(url)
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise StorageError(f"{name}: unknown URL scheme '{scheme}://': use {known}, or a local "
                           "path")
    for module in dict.fromkeys(("fsspec", SCHEMES[scheme][0])):
        if importlib.util.find_spec(module) is None:
            raise StorageError(f"{scheme}:// needs the Python package {module}, which is not "
                               f"installed: {SCHEMES[scheme][1]}")
    from fsspec.core import url_to_fs

    try:
        fs, root = url_to_fs(url, **_with_defaults(scheme, options))
    except Exception as err:  # bad options, a missing libhdfs, ...: the library's own kinds
        raise StorageError(f"cannot open {name}: {describe(err)}") from None
    if hasattr(fs, "retries"):  # s3fs's own loop around each request: ours does the retrying
        fs.retries = 1
    return RemoteFolder(url, fs, root, deadline)


def fetch_folder(url: str, dest: Path, options: Optional[dict] = None,
                 deadline: float = DEFAULT_DEADLINE) -> Path:
    """Bring the store's folder `url` into the local cache `dest`: each file that is missing
    there or has another size is downloaded, so a second run reads the cache. Returns `dest`."""
    folder = open_folder(url, options, deadline)
    files = folder.files()
    if not files:
        raise DataError(f"{folder.name}: no files there (upload the data first: "
                        "docs/storage.md)")
    fetched = 0
    for rel, size in sorted(files.items()):
        target = dest.joinpath(*rel.split("/"))
        if not (target.is_file() and target.stat().st_size == size):
            folder.download(rel, target)
            fetched += 1
    log.info(f"data: {folder.name} -> {dest} ({fetched} of {len(files)} files downloaded, the "
             "rest already cached)")
    return dest


def upload_folder(src: Path, url: str, options: Optional[dict] = None) -> int:
    """Copy every file below the local folder `src` to the store's folder `url` (what the data
    scripts' *_UPLOAD does); returns how many."""
    folder = open_folder(url, options)
    count = 0
    for path in sorted(Path(src).rglob("*")):
        if path.is_file() and path.name not in NOT_UPLOADED and ".tmp" not in path.name:
            try:
                data = path.read_bytes()
            except OSError as err:
                raise StorageError(f"cannot read {path} to upload it: "
                                   f"{describe_os(err)}") from None
            folder.write(path.relative_to(src).as_posix(), data)
            count += 1
    return count
