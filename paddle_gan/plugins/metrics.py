"""The `metrics` plugin: numbers that say whether the GAN works, measured at pass ends.

Every `every_n_passes` passes (and after the last one) it draws `n_samples` from the inference
generator with noise of its own seeded generator, so training with and without it is bit for bit
the same, and measures them as `paddle_gan.evaluate` does: the 2-D metrics against the true
distribution, or for MNIST the classifier-feature metrics against the test split. Each result
goes to the console as one line, to `<output_dir>/metrics.jsonl` as one strict-JSON line with
its protocol, and, when the `visualdl` plugin is on, to VisualDL under `<output_dir>/vdl/metrics/`
(its own folder: VisualDL shows one record file per folder). tools/evaluate.py on the pass's
checkpoint with the same seed and sample count gives the same numbers.
"""
from __future__ import annotations

import contextlib
import io
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ..checkpoint_io import checkpoint_name
from ..config import ConfigError
from ..datasets.base import DataError
from ..evaluate import MetricsUnavailable, build_evaluator, dumps, headline, one_line
from ..metrics.classifier import ExtractorError
from .base import Plugin, TrainState
from .checkpoint import checkpoint_dir
from .registry import register
from .visualdl import import_log_writer

log = logging.getLogger("paddle_gan")


@register
class MetricsPlugin(Plugin):
    name = "metrics"

    @dataclass
    class Options:
        every_n_passes: int = field(default=1, metadata={"min": 0})  # 0: off
        # None: 10000 points for 2-D data, 2000 images for MNIST
        n_samples: Optional[int] = field(default=None, metadata={"min": 2})
        seed: int = field(default=0, metadata={"min": 0})  # of the evaluation noise
        classifier: str = ""  # MNIST extractor (.npz with sidecar); "": the pinned one
        reference_cache: str = ""  # "": metrics_cache next to the output dir

    def __init__(self, options: Options):
        self.options = options
        self._evaluator = None
        self._log_writer_cls = None
        self._writer = None
        self._vdl_file: Optional[str] = None  # restored on resume: append to the same file

    def state_dict(self) -> Dict[str, Any]:
        return {"vdl_file": self._vdl_file} if self._vdl_file else {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self._vdl_file = state.get("vdl_file") or self._vdl_file

    def on_train_start(self, state: TrainState) -> None:
        if not self.options.every_n_passes:
            return
        settings = state.settings
        cache = self.options.reference_cache or state.output_dir.parent / "metrics_cache"
        try:
            self._evaluator = build_evaluator(settings.data, settings.resolved_data_dir(),
                                              self.options.classifier or None, cache)
        except MetricsUnavailable as err:
            log.info(f"metrics plugin disabled: {err}")
            return
        except DataError as err:
            log.warning(f"metrics plugin disabled: no reference statistics ({err})")
            return
        except ExtractorError as err:
            raise ConfigError(f"metrics plugin: {err}") from None
        self._n = self.options.n_samples or self._evaluator.default_samples
        if "visualdl" in settings.plugins:
            self._log_writer_cls = import_log_writer()

    def on_pass_end(self, state: TrainState) -> None:
        last = state.pass_id == state.settings.num_passes - 1
        if self._evaluator is None or ((state.pass_id + 1) % self.options.every_n_passes
                                       and not last):
            return
        checkpoint = None
        if "checkpoint" in state.settings.plugins:  # saved right after us, with these weights
            checkpoint = str(checkpoint_dir(state.output_dir)
                             / checkpoint_name(state.global_step, state.pass_id))
        start = time.perf_counter()
        result = self._evaluator.evaluate(
            state.nets.generator, state.nets.noise_dim, self._n, self.options.seed,
            checkpoint=checkpoint, pass_id=state.pass_id, global_step=state.global_step)
        with open(state.output_dir / "metrics.jsonl", "a") as f:
            f.write(dumps(result) + "\n")
        log.info(f"pass {state.pass_id} metrics: {one_line(result)} ({self._n} samples, "
                 f"{time.perf_counter() - start:.1f} s)")
        if self._log_writer_cls is not None:
            writer = self._open(state)
            for name, value in headline(result):
                writer.add_scalar(f"metrics/{name}", float("nan") if value is None else value,
                                  state.global_step)

    def _open(self, state: TrainState):
        if self._writer is None:
            # VisualDL prints a line when it appends to an existing file; it says nothing new.
            logdir = state.output_dir / "vdl" / "metrics"
            with contextlib.redirect_stdout(io.StringIO()):
                self._writer = self._log_writer_cls(logdir=str(logdir),
                                                    file_name=self._vdl_file or "")
            self._vdl_file = self._writer.file_name.rsplit("/", 1)[-1]
        return self._writer

    def on_train_end(self, state: TrainState) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
