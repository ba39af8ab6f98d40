"""The output folder's life (paddle_gan/output.py): `run()` called from Python adds train.log to
the `paddle_gan` logger for the run and takes it off again, leaving the caller's handlers,
level and propagation as they were; the caller's handlers hear the run; a second run on a
locked folder is refused before anything is written (the lock itself: test_storage.py)."""
import logging

import pytest

from paddle_gan.config import resolve_settings
from paddle_gan.errors import UsageError
from paddle_gan.output import OutputFolder
from paddle_gan.run import run


def tiny(out):
    return resolve_settings(None, ["data_size=512", "plugins=[console, checkpoint]",
                                   "plugin_options.console.every_n_iters=2"],
                            {"num_passes": 1, "iters_per_pass": 4, "batch_size": 16,
                             "output_dir": str(out)}, "uniform")


class Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_run_from_python_leaves_the_callers_logging_as_it_was(tmp_path):
    logger = logging.getLogger("paddle_gan")
    mine = Keep()
    logger.addHandler(mine)
    saved_level = logger.level
    logger.setLevel(logging.WARNING)  # a caller who wants warnings only
    before = (list(logger.handlers), logger.level, logger.propagate)
    try:
        state = run(tiny(tmp_path / "run"))
        assert (list(logger.handlers), logger.level, logger.propagate) == before
    finally:
        logger.removeHandler(mine)
        logger.setLevel(saved_level)
    assert state.global_step == 4
    log = (tmp_path / "run" / "train.log").read_text()
    assert "pass 0 iter 4/4" in log and "checkpoint (end of pass 0)" in log
    assert any("pass 0 iter 4/4" in line for line in mine.lines)  # the caller heard the run


def test_a_locked_output_folder_is_refused_leaving_no_handler_behind(tmp_path):
    out = tmp_path / "run"
    with OutputFolder(tiny(out)):
        with pytest.raises(UsageError, match="in use by another run"):
            run(tiny(out))
    assert not any(isinstance(h, logging.FileHandler)
                   for h in logging.getLogger("paddle_gan").handlers)


def test_a_refused_resume_leaves_the_folder_as_it_found_it(tmp_path, capsys):
    from paddle_gan.cli.train import main

    out = tmp_path / "run"
    args = ["-d", "uniform", "--num_passes", "1", "--iters_per_pass", "4", "--batch_size", "16",
            "--set", "plugins=[checkpoint]", "--output_dir", str(out)]
    assert main(args + ["--set", "data_size=512"]) == 0
    before = {name: (out / name).read_bytes() for name in ("train.log", ".lock", "config.yaml")}
    capsys.readouterr()
    assert main(args + ["--set", "data_size=256", "--resume", "auto"]) == 2
    assert "data_size=512" in capsys.readouterr().err
    assert {name: (out / name).read_bytes() for name in before} == before
