"""Image metrics in the pinned classifier's eyes, with the protocol that makes them comparable.

This file owns the reference statistics (mean and covariance of the classifier's penultimate
features on a real split, the features themselves and their k-NN radii, cached as .npz with the
extractor SHA-256, split and sample count they were made with, and refused for any other
extractor), the Frechet distance between feature Gaussians (NumPy eigendecompositions, no SciPy),
the classifier score (the Inception Score analogue), the class histogram with its entropy, the
share of confidently classified samples, and `evaluate_images`, which returns them all with
precision, recall, density and coverage (`manifold`) and their protocol as one
JSON-serialisable dict.
"""
from __future__ import annotations

import io
import logging
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

import numpy as np

from .. import storage
from .classifier import ExtractorError, LeNet, extract
from .manifold import NEAREST_K, knn_radii, prdc

PathLike = Union[str, Path]


class OutdatedCache(ValueError):
    """A reference cache written before it held the features (or with another k)."""


@dataclass
class ReferenceStats:
    """Feature mean [D] and covariance [D, D] of `n_samples` real images of `split`, and the
    features [N, D] with their `nearest_k`-NN radii [N] (for precision, recall and the like)."""

    mean: np.ndarray
    cov: np.ndarray
    extractor_sha256: str
    split: str
    n_samples: int
    features: np.ndarray
    radii: np.ndarray
    nearest_k: int = NEAREST_K

    def check(self, extractor_sha256: Optional[str]) -> None:
        """Refuse an extractor other than the one these statistics were computed with."""
        if extractor_sha256 != self.extractor_sha256:
            raise ExtractorError(
                f"the classifier's SHA-256 is {extractor_sha256} but the reference statistics "
                f"({self.split}, {self.n_samples} samples) were computed with "
                f"{self.extractor_sha256}; use that classifier or recompute the statistics"
            )

    def save(self, path: PathLike) -> None:
        path = Path(path)
        buffer = io.BytesIO()
        np.savez(
            buffer, mean=self.mean, cov=self.cov, extractor_sha256=np.array(self.extractor_sha256),
            split=np.array(self.split), n_samples=np.array(self.n_samples, dtype=np.int64),
            features=self.features, radii=self.radii,
            nearest_k=np.array(self.nearest_k, dtype=np.int64),
        )
        storage.make_folder(path.parent, "the reference statistics cache")
        storage.write_bytes(path, buffer.getvalue(), "reference statistics")

    @classmethod
    def load(cls, path: PathLike) -> ReferenceStats:
        with np.load(path, allow_pickle=False) as data:
            if "features" not in data.files or int(data["nearest_k"]) != NEAREST_K:
                raise OutdatedCache(f"{path} holds no features for k={NEAREST_K}")
            return cls(
                mean=data["mean"], cov=data["cov"], extractor_sha256=str(data["extractor_sha256"]),
                split=str(data["split"]), n_samples=int(data["n_samples"]),
                features=data["features"], radii=data["radii"], nearest_k=NEAREST_K,
            )


def feature_statistics(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features [N, D], float64."""
    features = np.asarray(features, dtype=np.float64)
    if len(features) < 2:
        raise ValueError("feature statistics need at least 2 samples")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    # symmetrise and clip tiny negative eigenvalues: covariances are PSD up to rounding
    w, v = np.linalg.eigh((matrix + matrix.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), for PSD covariances.

    tr((S1 S2)^1/2) = tr((S1^1/2 S2 S1^1/2)^1/2), and the inner matrix is symmetric PSD, so two
    symmetric eigendecompositions replace a general matrix square root.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    root1 = _sqrt_psd(sigma1)
    inner = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(value, 0.0))  # rounding can leave a tiny negative for equal Gaussians


def classifier_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    """exp(E_x[KL(p(y|x) || p(y))]): 1 for one class or no confidence, 10 at best on MNIST."""
    probs = np.asarray(probs, dtype=np.float64)
    marginal = probs.mean(axis=0)
    kl = np.sum(probs * (np.log(probs + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))


def class_histogram(probs: np.ndarray) -> Tuple[list, float]:
    """Each class's share of the predicted labels, and that histogram's entropy in nats
    (ln 10 = 2.303 when all ten digits are equally frequent, 0 when one class takes all)."""
    probs = np.asarray(probs)
    counts = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
    shares = counts / counts.sum()
    nonzero = shares[shares > 0]
    return [float(s) for s in shares], float(np.sum(nonzero * np.log(1.0 / nonzero)))


def class_coverage(shares) -> float:
    """Share of the classes the samples cover: those holding at least half the share they would
    hold if every class were equally frequent (1 when all ten digits appear, 0.1 for one)."""
    shares = np.asarray(shares, dtype=np.float64)
    return float(np.mean(shares >= 0.5 / len(shares)))


def confident_share(probs: np.ndarray, threshold: float = 0.9) -> float:
    """Share of samples whose top class probability is at least `threshold`."""
    return float(np.mean(np.asarray(probs).max(axis=1) >= threshold))


def compute_reference(model: LeNet, images: np.ndarray, split: str,
                      batch_size: int = 500) -> ReferenceStats:
    """Reference statistics of real `images` of `split`, bound to the model's SHA-256."""
    if not model.sha256:
        raise ExtractorError("the classifier has no SHA-256; save or load it first")
    features, _ = extract(model, images, batch_size)
    mean, cov = feature_statistics(features)
    return ReferenceStats(mean, cov, model.sha256, split, len(features), features,
                          knn_radii(features))


def reference_stats(cache_path: PathLike, model: LeNet, split: str,
                    load_images: Callable[[], np.ndarray]) -> ReferenceStats:
    """The cached statistics at `cache_path`, or computed from `load_images()` and cached.

    A cache made with another extractor or split is refused rather than silently replaced:
    a number that changed because its yardstick changed must not look like progress.
    """
    cache_path = Path(cache_path)
    if cache_path.is_file():
        try:
            ref = ReferenceStats.load(cache_path)
        # a damaged zip fails in any of these ways (NotImplementedError: a flipped byte in a
        # member's compression method; RuntimeError: in its encryption flag)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError) as err:
            # A damaged or outdated cache says nothing: computed again and replaced, with a word.
            why = ("made by an older version" if isinstance(err, OutdatedCache)
                   else f"unreadable ({type(err).__name__})")
            logging.getLogger(__name__).warning(
                f"metrics: {cache_path} is {why}, computing it again")
            ref = compute_reference(model, load_images(), split)
            ref.save(cache_path)
            return ref
        ref.check(model.sha256)
        if ref.split != split:
            raise ValueError(f"{cache_path} holds statistics of split {ref.split!r}, not {split!r}")
        return ref
    ref = compute_reference(model, load_images(), split)
    ref.save(cache_path)
    return ref


def evaluate_images(images: np.ndarray, model: LeNet, reference: ReferenceStats, seed: int,
                    checkpoint: Optional[str] = None, pass_id: Optional[int] = None,
                    threshold: float = 0.9, batch_size: int = 500) -> dict:
    """All image metrics of generated `images` [N, 1, 28, 28] in [-1, 1], with their protocol.

    `seed` is the seed of the noise the images were generated from; it is recorded, not used.
    Lower `frechet` is better; `classifier_score` and `class_entropy` are best near 10 and ln 10;
    `precision`, `recall`, `density` and `coverage` near 1 (k = `nearest_k` neighbours).
    """
    reference.check(model.sha256)
    features, probs = extract(model, images, batch_size)
    mean, cov = feature_statistics(features)
    shares, entropy = class_histogram(probs)
    return {
        "frechet": frechet_distance(mean, cov, reference.mean, reference.cov),
        "classifier_score": classifier_score(probs),
        "class_shares": shares,
        "class_entropy": entropy,
        "class_coverage": class_coverage(shares),
        "smallest_class": float(min(shares)),  # a collapse shows here first (even: 0.1)
        "confident": confident_share(probs, threshold),
        **prdc(reference.features, features, reference.radii, reference.nearest_k),
        "confident_threshold": float(threshold),
        "nearest_k": int(reference.nearest_k),
        "extractor_sha256": reference.extractor_sha256,
        "n_samples": int(len(features)),
        "reference_split": reference.split,
        "reference_n_samples": int(reference.n_samples),
        "seed": int(seed),
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "pass": None if pass_id is None else int(pass_id),
    }
