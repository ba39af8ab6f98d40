"""What SIGINT and SIGTERM do, in each phase of a process: the one place that installs handlers.

While a command loads or reads (and the trainer until training starts), a signal ends the process
at once with one line and exit code 130/143: nothing is saved before training starts
(`stop_at_once`). While training, it asks the loop to stop after the current step, so the
checkpoint plugin can save (`stop_after_step`); a second SIGINT stops at once. A launched
data-parallel rank that is failing ignores the launcher's SIGTERM until it has written its line
(`ignore_sigterm_while_failing`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from types import FrameType
from typing import Any, Callable, Dict, Optional, Union

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGINT, signal.SIGTERM)
# What signal.signal takes and returns: a function, SIG_DFL or SIG_IGN, or None (a handler not
# installed from Python)
Handler = Union[Callable[[int, Optional[FrameType]], Any], int, signal.Handlers, None]


def _nothing_saved() -> str:
    return "nothing was saved"


_saved: Callable[[], str] = _nothing_saved  # what the stop line says was saved


def say_saved(describe: Optional[Callable[[], str]]) -> None:
    """What a stop at once says was saved (the run's checkpoints, when it has some); None: back
    to "nothing was saved"."""
    global _saved
    _saved = describe or _nothing_saved


def stop_at_once() -> Dict[int, Handler]:
    """From now on SIGINT/SIGTERM end the process at once, with one line and exit code 130/143.
    Raising KeyboardInterrupt instead would, inside an import that C code runs, become an
    ImportError traceback. Returns the handlers it replaced (for `restore`)."""

    def stop(signum, frame):
        # sys.__stderr__: Paddle's import runs with sys.stderr redirected (runtime.import_paddle)
        print(f"stopped by {signal.Signals(signum).name}; {_saved()}", file=sys.__stderr__,
              flush=True)
        os._exit(128 + signum)

    return {sig: signal.signal(sig, stop) for sig in SIGNALS}


def restore(previous: Dict[int, Handler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@contextlib.contextmanager
def stop_after_step(state, saves: bool):
    """SIGINT/SIGTERM set `state.stop_reason`: the loop stops after the current step. A second
    SIGINT stops at once. A second SIGTERM changes nothing: paddle.distributed.launch sends up to
    three, 0.2 s apart, and then waits 30 s for the checkpoint. `saves`: a plugin will save the
    state at the stop."""

    def request_stop(signum, frame):
        if state.stop_reason:  # a repeated SIGTERM
            return
        state.stop_reason = signal.Signals(signum).name
        unsaved = "" if saves else " (nothing will be saved: no checkpoint plugin)"
        log.info(f"{state.stop_reason} received: stopping after the current step{unsaved}")
        signal.signal(signal.SIGINT, previous[signal.SIGINT])

    previous: Dict[int, Handler] = {sig: signal.signal(sig, request_stop) for sig in SIGNALS}
    try:
        yield
    finally:
        restore(previous)


def ignore_sigterm_while_failing() -> None:
    """The launcher SIGTERMs every rank once one has failed (SIGKILL 3 s later) and reports rank
    0's exit code first: a failing rank still writes its line and exits with its own code (the
    train command leaves this in place until the process ends)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
