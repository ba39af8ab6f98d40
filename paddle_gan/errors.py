"""The errors a user can cause, and what the command line makes of them.

Every `UsageError` is something the user can fix (a flag, a setting, a data file, a checkpoint,
the device, a folder): its message is one line that names the thing and what is wrong, and the
tools print it as `error: ...` with exit code 2, never a traceback. `Diverged` is not the user's
input but the training itself (exit code 3); `RankLost`, another process of a data-parallel run
that went away (exit code 4).
"""
from __future__ import annotations


class UsageError(Exception):
    """Bad input of any kind; the message is one line for the user (exit code 2)."""


class ConfigError(UsageError):
    """Bad settings: the message names the key and what is wrong."""


class DataError(UsageError):
    """A data file or source is missing or malformed; the message names it."""


class CheckpointError(UsageError):
    """A checkpoint (or checkpoint directory) is missing, unreadable, corrupted or unsafe."""


class DeviceError(UsageError):
    """The requested device cannot be used; the message says what to do."""


class SyncError(UsageError):
    """Two networks hold a parameter of the same name but different shapes."""


class Diverged(Exception):
    """A loss or a parameter became NaN or Inf (exit code 3)."""

    def __init__(self, name: str, value, kind: str = "loss"):
        super().__init__(f"{kind} '{name}' is {value}")
        self.name, self.value, self.kind = name, value, kind


class RankLost(Exception):
    """Data-parallel: a collective failed because another process of the run stopped (exit
    code 4)."""


def shorten(text: str, limit: int = 60) -> str:
    """`text` on one line, cut to `limit` characters: an error line quotes what the user wrote,
    which may be anything."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def did_you_mean(name: str, valid, prefix: str = "") -> str:
    """' (did you mean 'x'?)' for the closest valid name, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""


def failure_line(err: BaseException) -> str:
    """The one line a run that failed with `err` ends with, on stderr and in train.log."""
    if isinstance(err, Diverged):
        return f"error: training diverged: {err}; nothing was saved from this state"
    if isinstance(err, KeyboardInterrupt):  # a second SIGINT stops at once, without a checkpoint
        return "stopped by SIGINT"
    return f"error: {err}"
