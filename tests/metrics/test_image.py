"""Image metrics: closed forms, the extractor's file format and hash checks, and sanity checks
that separate real digits from noise and from one repeated digit, with a classifier trained in
seconds on 2000 real MNIST images (../shared/data/mnist) or on a synthetic fixture without them.
"""
import json
import logging
from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddle_gan.metrics.classifier import (
    ExtractorError,
    LeNet,
    extract,
    file_sha256,
    load_classifier,
    save_classifier,
)
from paddle_gan.metrics.image import (
    ReferenceStats,
    class_histogram,
    classifier_score,
    compute_reference,
    confident_share,
    evaluate_images,
    frechet_distance,
    reference_stats,
)

MNIST_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"


def test_frechet_of_diagonal_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 3.0, 6), rng.uniform(0.1, 3.0, 6)
    # diagonal covariances commute: tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (sqrt a - sqrt b)^2
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    # the distance does not depend on the basis: rotate both Gaussians
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rotated = frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-8)


def test_frechet_of_equal_singular_gaussians_is_zero():
    x = np.random.default_rng(1).normal(size=(5, 8))  # rank 5 in 8 dimensions
    cov = x.T @ x
    assert frechet_distance(np.ones(8), cov, np.ones(8), cov) == pytest.approx(0.0, abs=1e-8)


def test_score_histogram_and_confidence_by_hand():
    one_hot = np.eye(10)[np.arange(1000) % 10]
    assert classifier_score(one_hot) == pytest.approx(10.0)
    shares, entropy = class_histogram(one_hot)
    assert shares == [0.1] * 10 and entropy == pytest.approx(np.log(10))
    collapsed = np.tile(np.eye(10)[3], (50, 1))
    assert classifier_score(collapsed) == pytest.approx(1.0)
    assert class_histogram(collapsed) == ([0.0] * 3 + [1.0] + [0.0] * 6, 0.0)
    probs = np.full((4, 10), 0.01)
    probs[:, 0] = [0.91, 0.9, 0.89, 0.5]
    assert confident_share(probs) == 0.5
    assert confident_share(probs, threshold=0.5) == 1.0


# --- a classifier trained in seconds -----------------------------------------------------------


def _synthetic_digits(n, seed):
    """Ten fixed blob patterns ("digits"), jittered by a pixel and noised, in [-1, 1]."""
    grid = np.arange(28)
    templates = np.zeros((10, 28, 28))
    pattern_rng = np.random.default_rng(1234)  # the same ten patterns for every split
    for k in range(10):
        for cy, cx in pattern_rng.uniform(6, 22, size=(3, 2)):
            templates[k] += np.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2) / 8)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    shifts = rng.integers(-1, 2, size=(n, 2))
    images = np.stack([np.roll(templates[k], s, axis=(0, 1)) for k, s in zip(labels, shifts)])
    images = np.clip(2 * images - 1 + 0.2 * rng.normal(size=images.shape), -1, 1)
    return images[:, None].astype(np.float32), labels.astype(np.int64)


def _mnist_subset(split, n, seed):
    from paddle_gan.datasets.mnist import load_mnist

    data = load_mnist(MNIST_DIR, split)
    idx = np.random.default_rng(seed).choice(len(data), n, replace=False)
    return data.samples[idx], data.labels[idx]


@pytest.fixture(scope="module")
def digits():
    """(train images, train labels, test images, test labels), real when available."""
    if MNIST_DIR.is_dir():
        return (*_mnist_subset("train", 2000, 0), *_mnist_subset("test", 1000, 0))
    return (*_synthetic_digits(2000, 0), *_synthetic_digits(1000, 1))


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    """A tiny LeNet trained for a few seconds, saved and reloaded, and its train statistics."""
    x_train, y_train, _, _ = digits
    paddle.seed(0)
    model = LeNet(channels=(6, 12), hidden=32)
    optimizer = paddle.optimizer.Adam(3e-3, parameters=model.parameters())
    order_rng = np.random.default_rng(0)
    for _ in range(3):
        order = order_rng.permutation(len(x_train))
        for start in range(0, len(order), 64):
            idx = order[start : start + 64]
            loss = F.cross_entropy(model(paddle.to_tensor(x_train[idx])),
                                   paddle.to_tensor(y_train[idx]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
    path = tmp_path_factory.mktemp("classifier") / "lenet.npz"
    save_classifier(model, path, extra={"note": "test"})
    model = load_classifier(path)
    return model, path, compute_reference(model, x_train, "train")


def test_real_digits_score_well_and_bad_generators_badly(digits, trained):
    _, _, x_test, y_test = digits
    model, _, reference = trained
    _, probs = extract(model, x_test)
    assert np.mean(probs.argmax(axis=1) == y_test) > 0.8  # the tiny classifier learnt something

    good = evaluate_images(x_test, model, reference, seed=0)
    noise = np.random.default_rng(0).uniform(-1, 1, x_test.shape).astype(np.float32)
    bad_noise = evaluate_images(noise, model, reference, seed=0)
    one_digit = np.repeat(x_test[:1], len(x_test), axis=0)
    bad_repeat = evaluate_images(one_digit, model, reference, seed=0)

    assert good["frechet"] < 0.1 * bad_noise["frechet"]
    assert good["frechet"] < 0.1 * bad_repeat["frechet"]
    assert max(good["class_shares"]) < 0.2 and good["class_entropy"] > 0.95 * np.log(10)
    assert good["classifier_score"] > 5
    # one repeated digit: one class takes everything and the score collapses to 1
    assert max(bad_repeat["class_shares"]) == 1.0 and bad_repeat["class_entropy"] == 0.0
    assert good["class_coverage"] == 1.0 and bad_repeat["class_coverage"] == 0.1
    assert bad_repeat["classifier_score"] == pytest.approx(1.0)
    # noise looks like no digit in particular: a skewed histogram and a score near 1
    assert max(bad_noise["class_shares"]) > 0.5
    assert bad_noise["classifier_score"] < 0.3 * good["classifier_score"]


def test_precision_and_recall_of_the_reference_itself_are_one(digits, trained):
    x_train, _, x_test, _ = digits
    model, _, reference = trained
    itself = evaluate_images(x_train, model, reference, seed=0)
    assert (itself["precision"], itself["recall"], itself["coverage"]) == (1.0, 1.0, 1.0)
    assert itself["density"] == pytest.approx(1.0, abs=0.02)  # rounding at the balls' edges
    assert itself["nearest_k"] == 5
    one_digit = evaluate_images(np.repeat(x_test[:1], 100, axis=0), model, reference, seed=0)
    assert one_digit["recall"] == 0.0 and one_digit["coverage"] < 0.05  # no variety


def test_a_cache_of_an_older_version_is_computed_again(digits, trained, tmp_path):
    x_train, _, _, _ = digits
    model, _, reference = trained
    cache = tmp_path / "old.npz"
    np.savez(cache, mean=reference.mean, cov=reference.cov,  # no features: before precision
             extractor_sha256=np.array(model.sha256), split=np.array("train"),
             n_samples=np.array(len(x_train)))
    heard = []
    handler = logging.Handler()
    handler.emit = lambda record: heard.append(record.getMessage())
    logging.getLogger("paddle_gan").addHandler(handler)
    try:
        again = reference_stats(cache, model, "train", lambda: x_train)
    finally:
        logging.getLogger("paddle_gan").removeHandler(handler)
    assert any("made by an older version, computing it again" in line for line in heard)
    np.testing.assert_array_equal(again.radii, reference.radii)
    assert "features" in np.load(cache).files


def test_result_records_its_protocol(digits, trained):
    _, _, x_test, _ = digits
    model, _, reference = trained
    result = evaluate_images(x_test[:100], model, reference, seed=7, checkpoint="ck", pass_id=2)
    assert json.loads(json.dumps(result)) == result
    assert result["extractor_sha256"] == model.sha256
    assert (result["n_samples"], result["reference_split"], result["seed"]) == (100, "train", 7)
    assert (result["checkpoint"], result["pass"]) == ("ck", 2)
    assert result["reference_n_samples"] == len(digits[0])


def test_saved_classifier_round_trips_and_tampering_is_refused(digits, trained, tmp_path):
    model, path, _ = trained
    again = load_classifier(path)
    recorded = json.loads(path.with_suffix(".json").read_text())["sha256"]
    assert again.sha256 == model.sha256 == recorded
    x = digits[2][:20]
    np.testing.assert_array_equal(extract(again, x)[1], extract(model, x)[1])
    tampered = tmp_path / "lenet.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights
    tampered.write_bytes(bytes(data))
    tampered.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(ExtractorError, match="SHA-256"):
        load_classifier(tampered)


def flip_middle_byte(data: bytes) -> bytes:
    data = bytearray(data)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def unknown_compression(data: bytes) -> bytes:
    """The first member's compression method set to 99, in its local and central headers."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        data[data.find(signature) + offset] = 99
    return bytes(data)


@pytest.mark.parametrize("damage, problem", [
    (flip_middle_byte, "not a readable classifier (BadZipFile: Bad CRC-32"),
    (lambda data: data[: len(data) // 2], "not a readable classifier (ValueError: not an npz"),
    (lambda data: b"", "not a readable classifier (ValueError: not an npz"),
    (unknown_compression, "not a readable classifier (NotImplementedError: That compression"),
])
def test_a_damaged_classifier_with_a_matching_sidecar_is_one_clear_error(tmp_path, damage,
                                                                         problem):
    saved = tmp_path / "saved.npz"
    save_classifier(LeNet(channels=(2, 4), hidden=8), saved)
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(damage(saved.read_bytes()))
    # the sidecar agrees with the damaged bytes: only reading the file can tell
    damaged.with_suffix(".json").write_text(json.dumps({"sha256": file_sha256(damaged)}))
    with pytest.raises(ExtractorError) as caught:
        load_classifier(damaged)
    message = str(caught.value)
    assert message.startswith(f"{damaged}: {problem}") and "\n" not in message


def test_a_bad_sidecar_or_a_foreign_npz_is_one_clear_error(tmp_path):
    path = tmp_path / "lenet.npz"
    model = LeNet(channels=(2, 4), hidden=8)
    save_classifier(model, path)
    path.with_suffix(".json").write_text("[1, 2]")
    with pytest.raises(ExtractorError, match="lenet.json: not a readable classifier sidecar"):
        load_classifier(path)
    arrays = {name: value.numpy() for name, value in model.state_dict().items()}
    arrays["fc.weight"] = arrays["fc.weight"][:10]  # paddle would warn and keep random weights
    foreign = {"no_arch": arrays,
               "wrong_shape": {**arrays, "arch": np.array([2, 4, 8])}}
    for name, content in foreign.items():
        with open(tmp_path / f"{name}.npz", "wb") as f:
            np.savez(f, **content)
        sha = file_sha256(tmp_path / f"{name}.npz")
        (tmp_path / f"{name}.json").write_text(json.dumps({"sha256": sha}))
    with pytest.raises(ExtractorError, match="no architecture"):
        load_classifier(tmp_path / "no_arch.npz")
    with pytest.raises(ExtractorError, match=r"fc.weight has shape \[10, 8\]"):
        load_classifier(tmp_path / "wrong_shape.npz")


def test_reference_of_another_extractor_is_refused(digits, trained, tmp_path):
    x_train, _, x_test, _ = digits
    model, _, reference = trained
    other = LeNet(channels=(6, 12), hidden=32)
    save_classifier(other, tmp_path / "other.npz")
    with pytest.raises(ExtractorError, match="reference statistics"):
        evaluate_images(x_test[:10], other, reference, seed=0)

    cache = tmp_path / "ref.npz"
    loads = []
    first = reference_stats(cache, model, "train", lambda: loads.append(1) or x_train)
    cached = reference_stats(cache, model, "train", lambda: pytest.fail("cache not used"))
    assert loads == [1]
    np.testing.assert_array_equal(cached.cov, first.cov)
    assert (cached.extractor_sha256, cached.split, cached.n_samples) == (
        model.sha256, "train", len(x_train))
    with pytest.raises(ExtractorError):
        reference_stats(cache, other, "train", lambda: x_train)
    with pytest.raises(ValueError, match="split"):
        reference_stats(cache, model, "test", lambda: x_train)
    assert isinstance(ReferenceStats.load(cache).mean, np.ndarray)


def test_class_coverage_counts_classes_with_half_their_share():
    from paddle_gan.metrics.image import class_coverage

    assert class_coverage([0.1] * 10) == 1.0
    assert class_coverage([1.0] + [0.0] * 9) == 0.1
    assert class_coverage([0.05] * 4 + [0.049] + [0.8 / 5] * 5) == 0.9  # 0.05 is half of 0.1
