"""Metrics of a conditional generator: does a sample show the class it was asked for?

Samples are generated for balanced labels (`noise.balanced_labels`: sample i gets class i mod K) and
read by the pinned classifier. The conditional accuracy of class c is the share of the samples
asked for c that the classifier labels c; the per-class Frechet distance compares the features
of the samples asked for c with the features of the real class-c images of the reference split
(`ClassReference`, computed from the split's images and labels when an evaluator is built: a
second of work, so it is not cached).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

from .classifier import LeNet, extract
from .image import feature_statistics, frechet_distance


@dataclass
class ClassReference:
    """Feature mean and covariance of each class's real images (index = class)."""

    means: List[np.ndarray]
    covs: List[np.ndarray]
    counts: List[int]


def class_reference(model: LeNet, images: np.ndarray, labels: np.ndarray,
                    num_classes: int) -> ClassReference:
    features, _ = extract(model, images)
    stats = [feature_statistics(features[labels == c]) for c in range(num_classes)]
    return ClassReference([mean for mean, _ in stats], [cov for _, cov in stats],
                          [int(np.sum(labels == c)) for c in range(num_classes)])


def evaluate_conditional(images: np.ndarray, labels: np.ndarray, model: LeNet,
                         reference: ClassReference, threshold: float = 0.9) -> dict:
    """Conditional accuracy and Frechet distance per class of `images` generated for `labels`
    (at least 2 of each class), and their means over the classes. Beside the accuracy, how
    sure the judge was: the confident accuracy counts a sample only when the classifier gives
    its class at least `threshold` (the image metrics' confident share uses the same), so an
    accuracy far above it rests on guesses (blurry or half-formed digits)."""
    features, probs = extract(model, images)
    predicted = probs.argmax(axis=1)
    sure = probs.max(axis=1) >= threshold
    accuracy, confident, frechet = [], [], []
    for c, (mean, cov) in enumerate(zip(reference.means, reference.covs)):
        asked = labels == c
        accuracy.append(float(np.mean(predicted[asked] == c)))
        confident.append(float(np.mean((predicted[asked] == c) & sure[asked])))
        frechet.append(frechet_distance(*feature_statistics(features[asked]), mean, cov))
    return {
        "conditional_accuracy": float(np.mean(accuracy)),
        "confident_accuracy": float(np.mean(confident)),
        "class_frechet": float(np.mean(frechet)),
        "class_accuracies": accuracy,
        "class_frechets": frechet,
        "samples_per_class": int(np.min(np.bincount(labels, minlength=len(reference.means)))),
        "reference_class_counts": reference.counts,
    }
