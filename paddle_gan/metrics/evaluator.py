"""Measuring a generator: what the `metrics` plugin and tools/evaluate.py share.

This file owns the pinned MNIST feature extractor (the classifier shipped in
paddle_gan/metrics/assets and the SHA-256 it must have), where the reference statistics of the
MNIST test split and the real-data floor are cached (one file per extractor), `Evaluator`, which
draws N samples from a generator with noise of its own seed (never the training's random state)
and returns the metrics with their protocol and the same metrics of real data ("real": the
floor a generator is measured against) as one JSON-serialisable dict (for a conditional
generator, with its samples asked for balanced classes and the conditional metrics added),
strict JSON for those dicts (NaN becomes null) and their one-line and table renderings. The
metrics themselves are the sibling modules' business (`two_d`, `image`, `manifold`,
`conditional`, `classifier`).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from ..checkpoint.reader import Loaded
from ..config import Settings
from ..errors import CheckpointError, DataError, UsageError
from ..noise import balanced_labels, sample_noise
from ..remote import fetch_folder
from ..storage import is_remote
from .classifier import ExtractorError, LeNet, file_sha256, load_classifier
from .conditional import ClassReference, class_reference, evaluate_conditional
from .image import ReferenceStats, evaluate_images, reference_stats
from .two_d import GaussianMixture2D, evaluate_2d, true_distribution

log = logging.getLogger(__name__)
PathLike = Union[str, Path]

PINNED_EXTRACTOR = Path(__file__).resolve().parent / "assets" / "lenet_mnist.npz"
# The identity of the pinned extractor: its sidecar could be rewritten along with the weights,
# this constant cannot without a reviewed code change. Retrain: tools/train_classifier.py.
PINNED_SHA256 = "22b0e5ef84d9e42a0256f113a0358bc9df8c1a8588e7b5ffe3dd6453737ff7d2"
REFERENCE_SPLIT = "test"
IMAGE_DATA = ("mnist",)  # data sources with a feature extractor
# "modes": the mixtures' published protocol (VEEGAN, PacGAN) measures 2,500 samples
DEFAULT_SAMPLES = {"points": 10_000, "modes": 2_500, "images": 2_000}
DEFAULT_CACHE = Path("output") / "metrics_cache"
HEADLINE = {
    "points": ("inside", "coverage", "sliced_w1", "ks"),
    "modes": ("modes", "high_quality", "reverse_kl", "sliced_w1", "ks"),
    "images": ("frechet", "classifier_score", "class_coverage", "smallest_class",
               "class_entropy", "confident", "precision", "recall", "density", "coverage"),
}
# the confident accuracy next to the accuracy: how much of it the judge was sure of
CONDITIONAL_HEADLINE = ("conditional_accuracy", "confident_accuracy", "class_frechet")
BEST = {"inside": "1", "coverage": "1", "sliced_w1": "0", "ks": "0", "modes": "all",
        "high_quality": "0.989 (true samples)", "reverse_kl": "0", "frechet": "0",
        "classifier_score": "10", "class_coverage": "1", "smallest_class": "0.1 (even)",
        "class_entropy": "2.303 (ln 10)",
        "confident": "1", "precision": "1", "recall": "1", "density": "1",
        "conditional_accuracy": "1", "confident_accuracy": "1", "class_frechet": "0"}
METRICS = sorted({name for names in (*HEADLINE.values(), CONDITIONAL_HEADLINE) for name in names})

class MetricsUnavailable(UsageError):
    """This data source has no metrics here (CIFAR-10: the only extractor is an MNIST one)."""


@contextlib.contextmanager
def paddle_rng_untouched():
    """Building a network draws initial weights from Paddle's generator; a run that evaluates
    must train exactly like one that does not, so the generator's state is put back."""
    import paddle

    saved = paddle.get_rng_state()
    try:
        yield
    finally:
        paddle.set_rng_state(saved)


def load_extractor(path: Optional[PathLike] = None,
                   expected_sha256: Optional[str] = None) -> LeNet:
    """The MNIST extractor in `path`, or the pinned one; refused if its SHA-256 differs from its
    sidecar's or from `expected_sha256` (for the pinned one: `PINNED_SHA256`)."""
    if path is None:
        path, expected_sha256 = PINNED_EXTRACTOR, expected_sha256 or PINNED_SHA256
    # checked before anything is parsed: a rewritten sidecar would let an altered file through
    if expected_sha256 and Path(path).is_file():
        sha = file_sha256(path)
        if sha != expected_sha256:
            raise ExtractorError(f"{path} has SHA-256 {sha}, but the pinned extractor is "
                                 f"{expected_sha256}; restore the file (git checkout) or pass "
                                 "your own classifier explicitly")
    with paddle_rng_untouched():
        return load_classifier(path)  # a damaged or foreign file is its ExtractorError too


def reference_cache_path(cache_dir: PathLike, extractor_sha256: str) -> Path:
    """One statistics file per extractor, so a retrained classifier gets its own."""
    return Path(cache_dir) / f"mnist-{REFERENCE_SPLIT}-{extractor_sha256[:16]}.npz"


def mnist_reference(model: LeNet, data_dir: PathLike, cache_dir: PathLike) -> ReferenceStats:
    """The MNIST test split's feature statistics under `model`: cached, or computed and cached."""
    from ..datasets.mnist import load_mnist

    assert model.sha256 is not None  # load_extractor's model: loaded, so identified
    path = reference_cache_path(cache_dir, model.sha256)
    fresh = not path.is_file()
    reference = reference_stats(path, model, REFERENCE_SPLIT,
                                lambda: load_mnist(data_dir, REFERENCE_SPLIT).samples)
    if fresh:
        log.info(f"metrics: reference statistics of MNIST {REFERENCE_SPLIT} "
                 f"({reference.n_samples} images) cached in {path}")
    return reference


def floor_cache_path(cache_dir: PathLike, extractor_sha256: str, n_samples: int,
                     seed: int) -> Path:
    return Path(cache_dir) / f"mnist-floor-{extractor_sha256[:16]}-n{n_samples}-seed{seed}.json"


def mnist_floor(model: LeNet, reference: ReferenceStats, data_dir: PathLike,
                cache_dir: PathLike, n_samples: int, seed: int) -> dict:
    """The image metrics of `n_samples` real MNIST training digits (a subset drawn from `seed`)
    against the reference: the best a generator can hope for with this protocol. Cached as JSON
    next to the reference statistics and used only when made with the same extractor, reference,
    sample count and seed; a damaged file is computed again. Raises DataError without the
    training split."""
    from ..datasets.mnist import load_mnist
    from ..storage import write_bytes

    assert model.sha256 is not None  # load_extractor's model: loaded, so identified
    path = floor_cache_path(cache_dir, model.sha256, n_samples, seed)
    wanted = {"extractor_sha256": model.sha256, "n_samples": n_samples, "seed": seed,
              "reference_split": reference.split, "reference_n_samples": reference.n_samples,
              "split": "train"}
    with contextlib.suppress(OSError, ValueError, RecursionError):
        cached = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(cached, dict) and all(cached.get(k) == v for k, v in wanted.items()):
            return cached
    train = load_mnist(data_dir, "train").samples
    rng = np.random.default_rng([seed, 3])
    images = train[rng.choice(len(train), n_samples, replace=n_samples > len(train))]
    floor = {**evaluate_images(images, model, reference, seed), "split": "train"}
    write_bytes(path, (dumps(floor) + "\n").encode(), "the real-data floor")
    log.info(f"metrics: real-data floor ({n_samples} MNIST train digits) cached in {path}")
    return floor


class Evaluator:
    """How the samples of one data source are measured; built once, then called per model.
    `floor(n, seed)` gives the full metrics of n real samples (None when there is no real data
    to measure, e.g. no MNIST training split)."""

    def __init__(self, data: str, distribution=None, extractor: Optional[LeNet] = None,
                 reference: Optional[ReferenceStats] = None, floor=None, noise: str = "normal",
                 pixel_range=(-1.0, 1.0), class_reference: Optional[ClassReference] = None):
        self.data, self.distribution = data, distribution
        self.extractor, self.reference = extractor, reference
        self.noise, self.pixel_range = noise, tuple(pixel_range or (-1.0, 1.0))
        if distribution is None:
            self.kind = "images"
        else:
            self.kind = "modes" if isinstance(distribution, GaussianMixture2D) else "points"
        self._floor = floor
        self._floors: Dict[Tuple[int, int], Optional[dict]] = {}  # (n_samples, seed) -> real()
        self.class_reference = class_reference  # set: the generator is conditional
        self.num_classes = len(class_reference.means) if class_reference else 0

    @property
    def default_samples(self) -> int:
        return DEFAULT_SAMPLES[self.kind]

    @property
    def min_samples(self) -> int:
        """Statistics need 2 samples (of each class, for a conditional generator)."""
        return 2 * max(1, self.num_classes)

    def real(self, n_samples: int, seed: int) -> Optional[dict]:
        """The headline metrics of real data under the same protocol (computed once)."""
        if (n_samples, seed) not in self._floors:
            floor = None
            if self.distribution is not None:
                true = self.distribution.sample(n_samples, np.random.default_rng([seed, 2]))
                floor = evaluate_2d(true, self.distribution, seed=seed)
            elif self._floor is not None:
                try:
                    floor = self._floor(n_samples, seed)
                except DataError as err:
                    log.warning(f"metrics: no real-data floor ({err})")
            self._floors[n_samples, seed] = floor and dict(headline(floor))
        return self._floors[n_samples, seed]

    def evaluate(self, generator, noise_dim: int, n_samples: int, seed: int,
                 checkpoint: Optional[str] = None, pass_id: Optional[int] = None,
                 global_step: Optional[int] = None) -> dict:
        """The metrics of `n_samples` drawn from `generator` with noise from `seed`."""
        from ..networks import generate

        labels = balanced_labels(n_samples, self.num_classes) if self.num_classes else None
        samples = generate(generator, sample_noise(n_samples, seed, noise_dim, self.noise), labels)
        if self.distribution is not None:
            result = evaluate_2d(samples, self.distribution, seed=seed, checkpoint=checkpoint,
                                 pass_id=pass_id)
        else:
            low, high = self.pixel_range  # the extractor reads MNIST as [-1, 1]
            if (low, high) != (-1.0, 1.0):
                samples = (samples - low) * np.float32(2 / (high - low)) - np.float32(1)
            # an images evaluator has both (build_evaluator)
            assert self.extractor is not None and self.reference is not None
            result = evaluate_images(samples, self.extractor, self.reference, seed=seed,
                                     checkpoint=checkpoint, pass_id=pass_id)
            if self.num_classes:
                assert labels is not None and self.class_reference is not None  # conditional
                result.update(evaluate_conditional(samples, labels, self.extractor,
                                                   self.class_reference))
        result["data"] = self.data
        result["generator_inputs"] = {  # what the samples were drawn with
            "noise": self.noise, "noise_dim": int(noise_dim), "num_classes": self.num_classes,
            "pixel_range": list(self.pixel_range) if self.kind == "images" else None}
        result["global_step"] = None if global_step is None else int(global_step)
        result["real"] = self.real(n_samples, seed)
        return result


def build_evaluator(settings: Settings, classifier: Optional[PathLike] = None,
                    reference_cache: PathLike = DEFAULT_CACHE, pixel_range=(-1.0, 1.0),
                    num_classes: int = 0) -> Evaluator:
    """The evaluator for the run's data (`settings.data`, its folder, noise and a 2-D source's
    layout) and a generator conditional on `num_classes` classes. Raises MetricsUnavailable (no
    metrics for it), ExtractorError (extractor refused) or DataError (MNIST test split
    unreadable)."""
    from ..datasets.mnist import NUM_CLASSES, load_mnist

    distribution = true_distribution(settings)
    if distribution is not None:
        return Evaluator(settings.data, distribution=distribution, noise=settings.noise)
    if settings.data not in IMAGE_DATA:
        raise MetricsUnavailable(f"image metrics are MNIST-only (the one feature extractor here "
                                 f"is an MNIST classifier); none for {settings.data}")
    if num_classes not in (0, NUM_CLASSES):
        raise MetricsUnavailable(f"conditional metrics need the classifier's {NUM_CLASSES} "
                                 f"classes; the generator has {num_classes}")
    model, data_dir = load_extractor(classifier), settings.resolved_data_dir()
    reference = mnist_reference(model, data_dir, reference_cache)
    classes = None
    if num_classes:
        test = load_mnist(data_dir, REFERENCE_SPLIT)
        assert test.labels is not None  # MNIST is labelled
        classes = class_reference(model, test.samples, test.labels, num_classes)
    return Evaluator(settings.data, extractor=model, reference=reference,
                     floor=lambda n, seed: mnist_floor(model, reference, data_dir,
                                                       reference_cache, n, seed),
                     noise=settings.noise, pixel_range=pixel_range, class_reference=classes)


def check_sample_count(evaluator: Evaluator, n_samples: int) -> None:
    if n_samples < evaluator.min_samples:
        raise UsageError(f"{n_samples} samples are too few: a generator of {evaluator.num_classes} "
                         f"classes is measured on at least {evaluator.min_samples} (2 a class)")


def evaluate_checkpoint(loaded: Loaded, n_samples: Optional[int] = None, seed: int = 0,
                        classifier: Optional[PathLike] = None, data_dir: Optional[PathLike] = None,
                        reference_cache: PathLike = DEFAULT_CACHE) -> dict:
    """The metrics of a loaded checkpoint's generator, as the metrics plugin measured it: the
    data comes from its saved settings, and everything that shapes the generator's input (noise
    distribution and size, classes, pixel range) from the checkpoint."""
    path = loaded.path
    try:
        at = loaded.meta["saved_at"]
        pass_id, global_step = at["pass_id"], at["global_step"]
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: incomplete checkpoint meta (no {err})") from None
    settings = loaded.data_settings
    settings.noise = loaded.noise_distribution  # the generator's input, as the plugin draws it
    if data_dir is not None:
        settings.data_dir = str(data_dir)
    if is_remote(settings.data_dir) and settings.data in IMAGE_DATA:  # the reference data
        fetch_folder(settings.data_dir, settings.resolved_data_dir())
    evaluator = build_evaluator(settings, classifier, reference_cache, loaded.pixel_range,
                                loaded.num_classes)
    n_samples = n_samples or evaluator.default_samples
    check_sample_count(evaluator, n_samples)
    return evaluator.evaluate(loaded.generator, loaded.noise_dim, n_samples, seed,
                              checkpoint=str(path), pass_id=pass_id, global_step=global_step)


# --- writing results ---------------------------------------------------------------------------

def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(result: dict, **kwargs) -> str:
    """Strict JSON: NaN and Inf (a diverged generator's distances) are written as null."""
    return json.dumps(_finite(result), allow_nan=False, **kwargs)


def result_kind(result: dict) -> str:
    """"images", "modes" (a 2-D mixture) or "points" (the uniform square)."""
    return "images" if "frechet" in result else "modes" if "modes" in result else "points"


def headline(result: dict) -> list:
    """[(name, value)] of the numbers that summarise a result."""
    names = HEADLINE[result_kind(result)]
    if "conditional_accuracy" in result:
        names += CONDITIONAL_HEADLINE
    return [(name, result[name]) for name in names]


def _number(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "nan"
    return f"{value:.4g}"


def _shown(result: dict, name: str, value) -> str:
    if name == "modes" and value is not None:  # captured out of how many
        return f"{value}/{len(result['mode_counts'])}"
    return _number(value)


def one_line(result: dict) -> str:
    """`modes 8/8 (real 8/8) high_quality 0.97 (real 0.989) ...`; without "real", the bare
    numbers."""
    real = result.get("real") or {}
    return " ".join(f"{name} {_shown(result, name, value)}"
                    + (f" (real {_shown(result, name, real[name])})" if name in real else "")
                    for name, value in headline(result))


def table(result: dict) -> str:
    """The result for people: where it comes from, then one metric per row with the same metric
    of real data and its best value."""
    where = result.get("checkpoint") or "-"
    lines = [f"checkpoint  {where} (pass {result.get('pass')}, step {result.get('global_step')})",
             f"data        {result['data']}: {result['n_samples']} samples, seed {result['seed']}"]
    if "extractor_sha256" in result:
        lines.append(f"reference   MNIST {result['reference_split']} "
                     f"({result['reference_n_samples']} images), extractor "
                     f"{result['extractor_sha256'][:16]}")
    real = result.get("real") or {}
    lines += ["", f"{'metric':<22}{'value':>10}{'real data':>12}  best"]
    lines += [f"{name:<22}{_shown(result, name, value):>10}"
              f"{_shown(result, name, real[name]) if name in real else '-':>12}  {BEST[name]}"
              for name, value in headline(result)]
    if "class_shares" in result:
        shares = " ".join(f"{digit}:{share:.2f}" for digit, share in
                          enumerate(result["class_shares"]))
        lines.append(f"{'class shares':<22}{shares}")
    if "class_accuracies" in result:
        for name, key in (("class accuracy", "class_accuracies"), ("class frechet",
                                                                    "class_frechets")):
            values = " ".join(f"{c}:{_number(v)}" for c, v in enumerate(result[key]))
            lines.append(f"{name:<22}{values}")
    if "mode_counts" in result:
        lines.append(f"{'mode counts':<22}{' '.join(map(str, result['mode_counts']))}")
    return "\n".join(lines)
