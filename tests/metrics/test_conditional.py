"""Conditional metrics by hand: the accuracy of each class, the Frechet distance of each class's
features against the reference's, on features and verdicts the test controls; and the metrics
plugin on a tiny conditional run (an untrained tiny extractor: plumbing, not quality)."""
import json

import numpy as np
import paddle
import pytest

import paddle_gan.metrics.conditional as conditional
from paddle_gan.cli import train as cli
from paddle_gan.metrics.classifier import LeNet, save_classifier
from paddle_gan.metrics.conditional import ClassReference, class_reference, evaluate_conditional
from paddle_gan.noise import balanced_labels
from tests.helpers import conditional_conf, tiny_mnist


def one_hot(classes, k=3):
    return np.eye(k)[classes]


def test_accuracy_and_frechet_of_each_class(monkeypatch):
    rng = np.random.default_rng(0)
    labels = balanced_labels(12, 3)  # 4 samples asked for each of classes 0, 1, 2
    features = rng.standard_normal((12, 2))
    verdicts = labels.copy()
    verdicts[labels == 1] = [1, 1, 0, 2]  # class 1: half right
    verdicts[labels == 2] = 0  # class 2: all wrong
    monkeypatch.setattr(conditional, "extract", lambda model, images: (features, one_hot(verdicts)))
    # the reference of class 0 is exactly its samples' statistics; class 1's and 2's are shifted
    means = [features[labels == c].mean(0) + [0.0, c] for c in range(3)]
    covs = [np.cov(features[labels == c], rowvar=False) for c in range(3)]
    result = evaluate_conditional(np.zeros((12, 1, 28, 28)), labels, None,
                                  ClassReference(means, covs, [5, 5, 5]))
    assert result["class_accuracies"] == [1.0, 0.5, 0.0]
    assert result["conditional_accuracy"] == pytest.approx(0.5)
    assert result["class_frechets"] == pytest.approx([0.0, 1.0, 4.0], abs=1e-9)  # ||shift||^2
    assert result["class_frechet"] == pytest.approx(5 / 3)
    assert result["samples_per_class"] == 4 and result["reference_class_counts"] == [5, 5, 5]
    assert result["confident_accuracy"] == pytest.approx(0.5)  # one-hot verdicts: all sure


def test_the_confident_accuracy_counts_only_the_verdicts_the_judge_is_sure_of(monkeypatch):
    labels = balanced_labels(8, 2)
    probs = one_hot(labels, 2) * 0.55 + 0.225  # every verdict right, each at 0.775
    probs[[0, 2]] = one_hot(labels[[0, 2]], 2) * 0.9 + 0.05  # two of class 0 at 0.95
    probs[1] = [0.97, 0.03]  # class 1 asked, class 0 given: a sure mistake
    monkeypatch.setattr(conditional, "extract",
                        lambda model, images: (np.zeros((8, 2)), probs))
    reference = ClassReference([np.zeros(2)] * 2, [np.eye(2)] * 2, [4, 4])
    result = evaluate_conditional(np.zeros((8, 1, 28, 28)), labels, None, reference)
    assert result["class_accuracies"] == [1.0, 0.75]
    assert result["conditional_accuracy"] == pytest.approx(0.875)
    assert result["confident_accuracy"] == pytest.approx((2 / 4 + 0) / 2)


def test_the_class_reference_holds_each_class_s_statistics(monkeypatch):
    rng = np.random.default_rng(1)
    features = rng.standard_normal((30, 3))
    labels = np.arange(30) % 2
    monkeypatch.setattr(conditional, "extract", lambda model, images: (features, None))
    ref = class_reference(None, np.zeros((30, 1, 28, 28)), labels, 2)
    assert ref.counts == [15, 15]
    for c in range(2):
        np.testing.assert_allclose(ref.means[c], features[labels == c].mean(0))
        np.testing.assert_allclose(ref.covs[c], np.cov(features[labels == c], rowvar=False))


def test_the_metrics_plugin_measures_a_conditional_run(tmp_path, capsys):
    data = tiny_mnist(tmp_path / "mnist", count=40)
    tiny_mnist(data, count=30, seed=1, split="test")
    paddle.seed(3)
    classifier = tmp_path / "tiny.npz"
    save_classifier(LeNet(channels=(2, 4), hidden=8), classifier)
    conf = conditional_conf(tmp_path / "c.py")
    out = tmp_path / "run"
    argv = ["-d", "mnist", "--num_passes", "1", "--iters_per_pass", "2", "--batch_size", "8",
            "--set", f"conf={conf}", "--set", f"data_dir={data}", "--output_dir", str(out),
            "--set", "plugins=[metrics]",
            "--set", f"plugin_options.metrics.classifier={classifier}",
            "--set", f"plugin_options.metrics.reference_cache={tmp_path / 'cache'}"]
    assert cli.main([*argv, "--set", "plugin_options.metrics.n_samples=30"]) == 0
    (record,) = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(record["class_accuracies"]) == len(record["class_frechets"]) == 10
    assert record["samples_per_class"] == 3 and sum(record["reference_class_counts"]) == 30
    assert 0 <= record["conditional_accuracy"] <= 1 and record["class_frechet"] >= 0
    assert 0 <= record["confident_accuracy"] <= record["conditional_accuracy"]
    line = next(line for line in capsys.readouterr().out.splitlines() if "0 metrics:" in line)
    accuracy = f"conditional_accuracy {record['conditional_accuracy']:.4g} "
    assert f"{accuracy}confident_accuracy {record['confident_accuracy']:.4g}" in line
    # fewer than 2 samples a class cannot be measured: one line before training
    assert cli.main([*argv, "--set", "plugin_options.metrics.n_samples=10", "--output_dir",
                     str(tmp_path / "few")]) == 2
    assert "metrics plugin: n_samples: 10 samples are too few: a generator of 10 classes is " \
        "measured on at least 20" in capsys.readouterr().err
