"""The `visualdl` plugin: VisualDL dashboards of a run, written under `<output_dir>/vdl/`.

Every `every_n_iters` iterations it logs the loss's terms, which network was trained and its
strike, and the speed; per pass the D and G step counts, the sample picture (the one the
`samples` plugin published, else drawn the same way), the metrics the `metrics` plugin
published and the train and test losses the `history` plugin published; every
`histogram_every_n_iters` iterations (0: never) a histogram of each parameter; once per record
file the run's settings as hyper-parameters and as text. The step of every record
is `state.global_step`, and the record file's name survives a resume through `state_dict()`, so a
resumed run appends to the same file and its curves continue where they stopped. If VisualDL
cannot be imported, training goes on with one warning and no dashboards.
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from .. import storage
from ..config import MAX_COUNT, flatten_settings, settings_to_dict
from ..roles import DIS, GEN
from ..state import TrainState
from .base import Plugin

log = logging.getLogger(__name__)

# The hyper-parameter table's metrics: the two losses every loss has (each loss term of the run
# is charted as loss/<term>: v1's d_real, d_fake, d, g; WGAN-GP's critic scores, penalty, ...).
HPARAM_METRICS = ["loss/d", "loss/g", "speed/iters_per_s"]
SAMPLES_TAG = "samples/fixed_noise"


def open_log_writer(logdir: Path, file_name: str = ""):
    """A visualdl.LogWriter on `logdir` (appending to `file_name` when it exists there), or
    None, with one warning, when the package is missing or broken."""
    try:
        from visualdl import LogWriter
    except Exception as err:  # a broken install fails in many ways, none should stop training
        log.warning(f"visualdl plugin disabled: cannot import visualdl ({err}); training goes on")
        return None
    # VisualDL prints a line when it appends to an existing file; the log says it instead.
    with contextlib.redirect_stdout(io.StringIO()), storage.writing("VisualDL records", logdir):
        return LogWriter(logdir=str(logdir), file_name=file_name)


class VisualDLPlugin(Plugin):
    name = "visualdl"

    @dataclass
    class Options:
        every_n_iters: int = field(default=10, metadata={"min": 1, "max": MAX_COUNT})  # scalars
        # parameter histograms every M iterations; 0: off (they cost time: docs/visualdl.md)
        histogram_every_n_iters: int = field(default=0, metadata={"min": 0, "max": MAX_COUNT})
        histogram_buckets: int = field(default=30, metadata={"min": 1, "max": 10_000})  # bins

    def __init__(self, options: Options):
        self.every = options.every_n_iters
        self.hist_every = options.histogram_every_n_iters
        self.buckets = options.histogram_buckets
        self._writer: Optional[Any] = None  # a visualdl.LogWriter (VisualDL has no types)
        self._file_name: Optional[str] = None  # restored on resume: append to the same file

    def state_dict(self) -> Dict[str, Any]:
        return {"file_name": self._file_name} if self._file_name else {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self._file_name = state.get("file_name") or self._file_name

    def on_train_start(self, state: TrainState) -> None:
        logdir = state.output_dir / "vdl"
        resumed = bool(self._file_name and (logdir / self._file_name).is_file())
        self._writer = open_log_writer(logdir, self._file_name or "")
        if self._writer is None:
            return
        self._file_name = Path(self._writer.file_name).name
        if resumed:
            log.info(f"visualdl: appending to {logdir / self._file_name}")
        else:
            self._log_settings(state)
            log.info(f"visualdl: logging to {logdir}")
        self._mark, self._iters_since_write = time.perf_counter(), 0

    def _log_settings(self, state: TrainState) -> None:
        assert self._writer is not None  # on_train_start opened it
        settings = settings_to_dict(state.settings)
        self._writer.add_hparams(flatten_settings(settings), HPARAM_METRICS)
        text = yaml.safe_dump(settings, sort_keys=False)
        # Markdown would reflow the YAML; four spaces make it a code block.
        self._writer.add_text(
            "config", "\n".join("    " + line for line in text.splitlines()), state.global_step
        )

    def on_step_end(self, state: TrainState) -> None:
        if self._writer is None:
            return
        self._iters_since_write += 1
        if state.global_step % self.every:
            return
        now = time.perf_counter()
        rate = self._iters_since_write / max(now - self._mark, 1e-9)
        self._mark, self._iters_since_write = now, 0
        writer, step, result = self._writer, state.global_step, state.result
        for key, value in result.losses.items():
            writer.add_scalar(f"loss/{key}", value, step)
        writer.add_scalar("scheduler/trained", 1 if result.decision == DIS else 0, step)
        writer.add_scalar("scheduler/strike", state.strike, step)
        writer.add_scalar("speed/iters_per_s", rate, step)
        writer.add_scalar("speed/samples_per_s", rate * state.settings.batch_size, step)

    def on_sync(self, state: TrainState) -> None:
        # After the sync generator_training holds the newest values of both G and D.
        due = self.hist_every and state.global_step % self.hist_every == 0
        if self._writer is None or not due:
            return
        for name, param in state.nets.gen_training.named_parameters():
            self._writer.add_histogram(
                f"params/{name}", param.numpy().ravel(), state.global_step, buckets=self.buckets
            )

    def on_pass_published(self, state: TrainState) -> None:
        """The pass's counts and picture, and what the `metrics` and `history` plugins published
        at this pass end (their step says when they were taken)."""
        from ..metrics.evaluator import headline

        if self._writer is None:
            return
        writer, step = self._writer, state.global_step
        writer.add_scalar("pass/d_steps", state.pass_counts[DIS], step)
        writer.add_scalar("pass/g_steps", state.pass_counts[GEN], step)
        writer.add_image(SAMPLES_TAG, self._samples_picture(state), step)
        result, record = state.metrics, state.history
        if result is not None and result["global_step"] == step:
            for name, value in headline(result):
                writer.add_scalar(f"metrics/{name}", math.nan if value is None else value, step)
        if record is not None and record["global_step"] == step:
            for split in ("train", "test"):
                for name, value in record[split].items():
                    writer.add_scalar(f"history/{split}/{name}", value, step)

    def _samples_picture(self, state: TrainState):
        from ..render import png_to_rgb
        from .samples import fixed_noise_picture

        if state.picture is not None and state.picture.pass_id == state.pass_id:
            return png_to_rgb(state.picture.png)
        return png_to_rgb(fixed_noise_picture(state)[1])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
