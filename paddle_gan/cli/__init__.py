"""The `paddle-gan` command (also `python -m paddle_gan`): its subcommands, one module each in this
package, and the one place that turns errors into exit codes.

`paddle-gan train|generate|export|evaluate|sweep|benchmark|train-classifier ...`: each module has
`build_parser(prog)` and `main(argv, prog)`, which `tools/<name>.py` also calls. Exit codes, for
every subcommand: 0 done; 1 a check or a part failed (an export that does not reproduce the
generator, a sweep cell, a benchmark subprocess); 2 bad usage, config, data, checkpoint, device,
storage or a locked output folder (one line, no traceback); 3 training diverged; 4 another
process of a data-parallel run stopped; 130 / 143 stopped by SIGINT / SIGTERM.
"""
from __future__ import annotations

import importlib
import logging
import sys
from typing import Callable, List, Optional

from .. import __version__
from ..errors import Diverged, RankLost, UsageError, did_you_mean, failure_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DIVERGED, EXIT_RANK_LOST = 0, 1, 2, 3, 4
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}

# what generate, export and evaluate accept as their SOURCE (checkpoint.reader.open_checkpoint)
SOURCE_HELP = ("SOURCE: a checkpoint folder, a checkpoints folder or a run's output dir (then the "
               "newest valid checkpoint).")

# name -> (module of this package, what it does)
COMMANDS = {
    "train": ("train", "train a GAN (python tools/gan_trainer.py)"),
    "generate": ("generate", "samples from a checkpoint: a PNG and a .npy"),
    "export": ("export", "the generator of a checkpoint as a Paddle inference model"),
    "evaluate": ("evaluate", "the metrics of a checkpoint, next to real data's"),
    "sweep": ("sweep", "a grid of runs, summarised over seeds"),
    "benchmark": ("benchmark", "speed and memory against plain Paddle (and PyTorch)"),
    "train-classifier": ("classifier", "the MNIST feature extractor behind the image metrics"),
}


class Terminal(logging.StreamHandler):
    """The command's terminal: the message alone, on stdout. A line logged with
    `extra={"log_file_only": True}` (the error a failed run ends with, which the terminal gets on
    stderr) is not shown."""

    def __init__(self):
        super().__init__(sys.stdout)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.addFilter(lambda record: not getattr(record, "log_file_only", False))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout  # today's: a caller (a test) may have swapped it since
        super().emit(record)


def log_to_terminal() -> None:
    """What the package logs goes to the terminal, today's stdout (the command owns the process:
    a command run again in it, as the tests do, replaces its own handler)."""
    logger = logging.getLogger("paddle_gan")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in [h for h in logger.handlers if isinstance(h, Terminal)]:
        logger.removeHandler(handler)
    logger.addHandler(Terminal())


class Failed(Exception):
    """A check or a part of the command failed (exit code 1); the message is its one line."""


def exit_code(err: BaseException) -> Optional[int]:
    """The exit code of an error a subcommand ends with; None for a bug (a traceback)."""
    if isinstance(err, UsageError):
        return EXIT_USAGE
    if isinstance(err, Diverged):
        return EXIT_DIVERGED
    if isinstance(err, RankLost):
        return EXIT_RANK_LOST
    if isinstance(err, KeyboardInterrupt):
        return EXIT_SIGNAL["SIGINT"]
    if isinstance(err, Failed):
        return EXIT_FAILED
    return None


def guarded(body: Callable[[], int]) -> int:
    """Run a subcommand's body: an error the user can act on is its one line on stderr and its
    exit code; anything else is a bug and keeps its traceback."""
    try:
        return body()
    except BaseException as err:
        code = exit_code(err)
        if code is None:
            raise
        print(failure_line(err), file=sys.stderr)
        return code


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: paddle-gan COMMAND [--help] ...  (paddle_gan {__version__})", "",
             "Train, measure and ship GANs on PaddlePaddle: the v1 GAN demo grown into a "
             "plugin-style trainer.", "", "commands:"]
    lines += [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    lines += ["", "`paddle-gan COMMAND --help` for a command's flags. Exit codes: 0 done, 1 a "
              "check failed, 2 bad input (one line),", "3 diverged, 4 a data-parallel process "
              "stopped, 130/143 stopped by SIGINT/SIGTERM."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return EXIT_OK if argv else EXIT_USAGE
    if argv[0] == "--version":
        print(f"paddle-gan {__version__}")
        return EXIT_OK
    name = argv[0]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}{did_you_mean(name, COMMANDS)}; the commands: "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(f"{__name__}.{COMMANDS[name][0]}")
    return module.main(argv[1:], prog=f"paddle-gan {name}")
