"""The `metrics` plugin: numbers that say whether the GAN works, measured at pass ends.

Every `every_n_passes` passes (and after the last one) it draws `n_samples` from the inference
generator with noise of its own seeded generator, so training with and without it is bit for bit
the same, and measures them as `paddle_gan.metrics.evaluator` does: the 2-D metrics against the
true distribution, or for MNIST the classifier-feature metrics against the test split (for a
conditional run also the conditional accuracy and Frechet distance of each class), next to the
same metrics of real data (the floor). Each result goes to the console as one line and to
`<output_dir>/metrics.jsonl` as one strict-JSON line with its protocol (naming the checkpoint of
the same step, when one was saved), and is published as `state.metrics` (the `visualdl` plugin
charts it). tools/evaluate.py on the pass's checkpoint with the same seed and sample count gives
the same numbers.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Optional

from .. import storage
from ..config import MAX_COUNT, MAX_SEED
from ..errors import ConfigError, DataError, UsageError
from ..metrics.classifier import ExtractorError
from ..metrics.evaluator import (
    Evaluator,
    MetricsUnavailable,
    build_evaluator,
    check_sample_count,
    dumps,
    headline,
    one_line,
)
from ..state import TrainState
from .base import Plugin

log = logging.getLogger(__name__)


class MetricsPlugin(Plugin):
    name = "metrics"

    @dataclass
    class Options:
        every_n_passes: int = field(default=1, metadata={"min": 0, "max": MAX_COUNT})  # 0: off
        # None: 10000 points for the uniform square, 2500 for a mixture (ring, grid; the
        # published protocol), 2000 images for MNIST
        n_samples: Optional[int] = field(default=None, metadata={"min": 2, "max": 1_000_000})
        # of the evaluation noise
        seed: int = field(default=0, metadata={"min": 0, "max": MAX_SEED})
        classifier: str = ""  # MNIST extractor (.npz with sidecar); "": the pinned one
        reference_cache: str = ""  # "": metrics_cache next to the output dir
        # with `ema`: also measure G as trained (generator_training's), not only its average
        training_generator: bool = False

    def __init__(self, options: Options):
        self.options = options
        self._evaluator: Optional[Evaluator] = None

    def on_train_start(self, state: TrainState) -> None:
        if not self.options.every_n_passes:
            return
        settings = state.settings
        cache = self.options.reference_cache or state.output_dir.parent / "metrics_cache"
        try:
            self._evaluator = build_evaluator(settings, self.options.classifier or None, cache,
                                              state.dataset.pixel_range, state.nets.num_classes)
        except MetricsUnavailable as err:
            log.info(f"metrics plugin disabled: {err}")
            return
        except DataError as err:
            log.warning(f"metrics plugin disabled: no reference statistics ({err})")
            return
        except ExtractorError as err:
            raise ConfigError(f"metrics plugin: {err}") from None
        self._n = self.options.n_samples or self._evaluator.default_samples
        try:
            check_sample_count(self._evaluator, self._n)
        except UsageError as err:
            raise ConfigError(f"metrics plugin: n_samples: {err}") from None

    def on_pass_end(self, state: TrainState) -> None:
        last = state.pass_id == state.settings.num_passes - 1
        if self._evaluator is None or ((state.pass_id + 1) % self.options.every_n_passes
                                       and not last):
            return
        saved = state.last_checkpoint
        checkpoint = str(saved.path) if saved and saved.global_step == state.global_step else None
        start = time.perf_counter()
        measure = functools.partial(
            self._evaluator.evaluate, noise_dim=state.nets.noise_dim, n_samples=self._n,
            seed=self.options.seed, checkpoint=checkpoint, pass_id=state.pass_id,
            global_step=state.global_step)
        result = measure(state.nets.generator)
        also = ""
        if self.options.training_generator and state.nets.ema_decay:
            with as_trained(state.nets) as generator:  # the same noise, G before averaging
                live = measure(generator)
            result["training_generator"] = {
                **dict(headline(live)), **{k: live[k] for k in ("mode_counts",) if k in live}}
            also = f" | G as trained: {one_line(result['training_generator'])}"
        storage.append_text(state.output_dir / "metrics.jsonl", dumps(result) + "\n", "metrics")
        state.metrics = result
        log.info(f"pass {state.pass_id} metrics: {one_line(result)} ({self._n} samples, "
                 f"{time.perf_counter() - start:.1f} s){also}")


@contextlib.contextmanager
def as_trained(nets):
    """generator_training's G as an inference generator, in inference mode while measured."""
    from ..networks import Generator

    gen = nets.gen_training.gen
    training = gen.training
    gen.eval()
    try:
        yield Generator(gen)
    finally:
        if training:
            gen.train()
