"""The output folder's life for one run: its lock, its mirror on a store, train.log, config.yaml
and where `--resume` reads from.

`OutputFolder(settings)` is entered before anything of the run is written and left after it
ended, however it ended. Entering locks the folder (one run per folder; rank 0 alone) and brings
a URL's copy down from the store first (a resumed run continues the store's run). Until the run
is accepted (`begin`: its settings built, its checkpoints started or resumed) it writes nothing
there: its lines are held, and a run refused then (another run's checkpoint, a bad setting)
leaves the folder as it found it, lock file and train.log included. `begin` opens train.log
with the lines held so far (a store's "skipped" notes among them); leaving waits for the last
uploads (a failing one is the run's last line in train.log), takes the log's handler off again
(a caller's own logging is left as it was) and releases the lock. A URL as output dir is staged:
the run writes into a local folder as always, and a `mirror.Mirror` uploads from its own thread
(checkpoints when saved, the rest at every pass end and at the end).
"""
from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import List, Optional

import yaml

from . import runtime, storage
from .config import Settings, settings_to_dict
from .errors import failure_line
from .mirror import Mirror, fetch_checkpoints

LOGGER = "paddle_gan"  # the package's logger: every module's logs under it
log = logging.getLogger(__name__)


class LogFile(logging.FileHandler):
    """train.log: a failed write stops the run with one StorageError line (instead of logging's
    traceback on stderr), once; after that the file is left alone."""

    def __init__(self, path: Path):
        with storage.writing("the log", path):
            super().__init__(path)
        self.failed = False
        self.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            return super().handleError(record)
        self.failed = True
        raise storage.StorageError(f"cannot write the log {self.baseFilename}: "
                                   f"{storage.describe(error)}") from None


class Held(logging.Handler):
    """The run's lines before train.log opens, for it."""

    def __init__(self):
        super().__init__()
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def log_failure(message: str) -> None:
    """The line a failed run ends with, into train.log alone (the terminal gets it on stderr),
    when there is one it can still write."""
    if any(isinstance(handler, LogFile) for handler in logging.getLogger(LOGGER).handlers):
        with contextlib.suppress(Exception):
            logging.getLogger(LOGGER).error(message, extra={"log_file_only": True})


class OutputFolder:
    """One run's output folder (see the module docstring): `with OutputFolder(settings) as out`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.path = settings.resolved_output_dir()
        self.writer = runtime.is_writer()
        self.mirror: Optional[Mirror] = None
        if self.writer and storage.is_remote(settings.output_dir):
            self.mirror = Mirror(settings.output_dir, self.path, settings.storage_options,
                                 settings.timeouts.storage)
        self.lock = storage.RunLock(self.path) if self.writer else None
        self.failed = True  # until the run says it ended well (`succeeded`)
        self.begun = False  # the run was accepted and writes into the folder
        self._held: Optional[Held] = None
        self._log_file: Optional[LogFile] = None
        self._level: Optional[int] = None  # the logger's own level, when the run raised it

    def __enter__(self) -> OutputFolder:
        logger = logging.getLogger(LOGGER)
        if logger.getEffectiveLevel() > logging.INFO:  # what a run logs is INFO: let it through
            self._level = logger.level
            logger.setLevel(logging.INFO)
        if self.writer:
            self._held = Held()
            logger.addHandler(self._held)
        try:
            locked = self.lock.acquire() if self.lock else False
            if self.mirror:
                self.mirror.pull()  # before train.log: a resumed run continues the store's run
        except BaseException:
            self._close_log()
            raise
        if self.lock and not locked:
            log.info(f"note: this system cannot lock {self.path}; run one training in it at a "
                     "time")
        if self.mirror:
            log.info(f"output: {self.mirror.name}, staged in {self.path} (locked there) and "
                     "uploaded from it in the background")
        return self

    def begin(self) -> None:
        """The run was accepted: from now on it writes here, train.log first, with the lines
        held until now."""
        self.begun = True
        if not self.writer:
            return
        log_file = LogFile(storage.make_folder(self.path, "output dir") / "train.log")
        held, self._held = self._held, None
        logger = logging.getLogger(LOGGER)
        if held is not None:
            logger.removeHandler(held)
            for record in held.records:
                log_file.handle(record)
        logger.addHandler(log_file)
        self._log_file = log_file

    def __exit__(self, *exc) -> None:
        try:
            self._close_mirror()
        except BaseException as err:
            log_failure(failure_line(err))  # the run's last line: train.log keeps it too
            raise
        finally:
            self._close_log()

    def succeeded(self) -> None:
        """The run ended well: a failing last upload is then the error it ends with."""
        self.failed = False

    def _close_log(self) -> None:
        logger = logging.getLogger(LOGGER)
        for handler in (self._held, self._log_file):
            if handler is not None:
                logger.removeHandler(handler)
                handler.close()
        self._held = self._log_file = None
        if self._level is not None:
            logger.setLevel(self._level)
            self._level = None
        if self.lock:
            self.lock.release(restore=not self.begun)  # a refused run leaves the lock as it was

    def _close_mirror(self) -> None:
        """Wait for the last uploads. When the run failed already, a failing upload is one
        more line in the log, not the error the run ends with."""
        if self.mirror is None:
            return
        try:
            self.mirror.close()
        except storage.StorageError as err:
            if not self.failed:
                raise
            if self.mirror.error is not err:
                log.warning(f"also: {err}")

    def write_config(self) -> None:
        """config.yaml: the run's resolved settings (rank 0)."""
        if self.writer:
            text = yaml.safe_dump(settings_to_dict(self.settings), sort_keys=False)
            storage.write_bytes(self.path / "config.yaml", text.encode(), "the run's settings")

    def resume_source(self) -> str:
        """--resume as a local path: a URL inside the output dir's URL is its staged copy,
        another URL is fetched into the local cache."""
        settings, source = self.settings, self.settings.resume
        if not storage.is_remote(source):
            return source
        base = settings.output_dir.rstrip("/") + "/"
        if storage.is_remote(settings.output_dir) and source.startswith(base):
            return str(self.path.joinpath(*source[len(base):].strip("/").split("/")))
        return str(fetch_checkpoints(source, settings.resolved_remote_cache(),
                                     settings.storage_options, settings.timeouts.storage))
