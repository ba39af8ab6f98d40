"""tools/evaluate.py on checkpoints made here: the JSON protocol, the very numbers the metrics
plugin logged for that pass, an MNIST checkpoint measured with a classifier trained in seconds
and a reference cache in tmp, bad checkpoints as exit 2, and the pinned extractor's hash check."""
import json
import shutil
import struct

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddle_gan.cli.evaluate import main as evaluate_main
from paddle_gan.cli.train import main as train_main
from paddle_gan.datasets.mnist import load_mnist
from paddle_gan.metrics import evaluator as evaluate
from paddle_gan.metrics.classifier import ExtractorError, LeNet, save_classifier
from tests.helpers import conditional_conf


def jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def uniform_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("uniform")
    assert train_main(["-d", "uniform", "--num_passes", "2", "--iters_per_pass", "10",
                       "--batch_size", "32", "--set", "data_size=4096", "--output_dir", str(out),
                       "--set", "plugins=[metrics, checkpoint]",
                       "--set", "plugin_options.metrics.n_samples=500",
                       "--set", "plugin_options.checkpoint.keep_last=10"]) == 0
    return out


def test_json_has_the_protocol_and_the_plugins_numbers(uniform_run, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert evaluate_main([str(uniform_run), "--pass", "0", "--num", "500", "--json",
                          str(out)]) == 0
    result = json.loads(out.read_text())
    checkpoint = uniform_run / "checkpoints" / "step-00000010-pass-0000"
    assert (result["checkpoint"], result["pass"], result["global_step"]) == (
        str(checkpoint), 0, 10)
    assert (result["data"], result["n_samples"], result["seed"]) == ("uniform", 500, 0)
    assert result["distribution"] == {"name": "uniform", "low": [0.0, 0.0], "high": [1.0, 1.0]}
    # the same generator, noise and protocol as the plugin at the end of pass 0
    assert result == jsonl(uniform_run / "metrics.jsonl")[0]
    printed = capsys.readouterr().out
    assert str(checkpoint) in printed and "sliced_w1" in printed and str(out) in printed


def test_a_uniform_noise_run_is_measured_with_its_own_noise(tmp_path):
    out = tmp_path / "run"
    assert train_main(["-d", "uniform", "--num_passes", "1", "--iters_per_pass", "10",
                       "--batch_size", "32", "--set", "data_size=4096", "--output_dir", str(out),
                       "--set", "noise=uniform", "--set", "plugins=[metrics, checkpoint]",
                       "--set", "plugin_options.metrics.n_samples=500"]) == 0
    assert evaluate_main([str(out), "--num", "500", "--json", str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["generator_inputs"] == {"noise": "uniform", "noise_dim": 10, "num_classes": 0,
                                          "pixel_range": None}
    assert result == jsonl(out / "metrics.jsonl")[0]


def test_newest_checkpoint_by_default_and_the_seed_matters(uniform_run, tmp_path):
    paths = {name: tmp_path / f"{name}.json" for name in ("a", "b", "c")}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        assert evaluate_main([str(uniform_run), "--seed", str(seed), "--json",
                              str(paths[name])]) == 0
    a, b, c = (json.loads(p.read_text()) for p in paths.values())
    assert a == b and a["sliced_w1"] != c["sliced_w1"]
    assert (a["pass"], a["global_step"], a["n_samples"]) == (1, 20, 10_000)  # the default N
    assert a["checkpoint"].endswith("step-00000020-pass-0001")


def test_bad_checkpoints_and_arguments_are_exit_2(uniform_run, tmp_path, capsys):
    assert evaluate_main([str(tmp_path / "missing")]) == 2
    assert evaluate_main([str(uniform_run), "--pass", "9"]) == 2
    broken = tmp_path / "broken"
    shutil.copytree(uniform_run / "checkpoints" / "step-00000020-pass-0001", broken)
    data = bytearray((broken / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (broken / "arrays.npz").write_bytes(bytes(data))
    assert evaluate_main([str(broken)]) == 2
    assert evaluate_main([str(uniform_run), "--num", "1"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 4 and all(line.startswith("error: ") for line in errors)
    assert str(broken) in errors[2]


# --- MNIST, with a classifier trained in seconds -----------------------------------------------


def write_mnist(folder, split, count, seed):
    """Ten noisy blob patterns as digits (each class its own), as MNIST IDX files."""
    names = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}[split]
    grid = np.arange(28)
    centres = np.random.default_rng(1234).uniform(6, 22, size=(10, 2))
    templates = np.exp(-((grid[None, :, None] - centres[:, 0, None, None]) ** 2
                         + (grid[None, None, :] - centres[:, 1, None, None]) ** 2) / 10)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    pixels = np.clip(255 * templates[labels] + rng.normal(0, 30, (count, 28, 28)), 0, 255)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / names[0]).write_bytes(struct.pack(">iIII", 2051, count, 28, 28)
                                    + pixels.astype(np.uint8).tobytes())
    (folder / names[1]).write_bytes(struct.pack(">iI", 2049, count)
                                    + labels.astype(np.uint8).tobytes())


def train_tiny_classifier(data_dir, path):
    train = load_mnist(data_dir, "train")
    paddle.seed(0)
    model = LeNet(channels=(4, 8), hidden=16)
    optimizer = paddle.optimizer.Adam(3e-3, parameters=model.parameters())
    for _ in range(3):
        for start in range(0, len(train), 64):
            x = paddle.to_tensor(train.samples[start : start + 64])
            loss = F.cross_entropy(model(x), paddle.to_tensor(train.labels[start : start + 64]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
    return save_classifier(model, path)


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    write_mnist(root / "data", "train", 320, 0)
    write_mnist(root / "data", "test", 100, 1)
    sha = train_tiny_classifier(root / "data", root / "tiny.npz")
    out = root / "run"
    assert train_main(["-d", "mnist", "--use_gpu", "0", "--num_passes", "1",
                       "--iters_per_pass", "2", "--batch_size", "8", "--output_dir", str(out),
                       "--set", f"data_dir={root / 'data'}",
                       "--set", "plugins=[metrics, checkpoint]",
                       "--set", f"plugin_options.metrics.classifier={root / 'tiny.npz'}",
                       "--set", f"plugin_options.metrics.reference_cache={root / 'cache'}",
                       "--set", "plugin_options.metrics.n_samples=64"]) == 0
    return root, sha


def test_mnist_checkpoint_with_a_tiny_classifier(mnist_run, tmp_path, capsys):
    root, sha = mnist_run
    cache = tmp_path / "cache"
    args = [str(root / "run"), "--num", "64", "--classifier", str(root / "tiny.npz"),
            "--reference-cache", str(cache), "--json", str(tmp_path / "r.json")]
    assert evaluate_main(args) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["extractor_sha256"] == sha
    assert (result["reference_split"], result["reference_n_samples"], result["n_samples"]) == (
        "test", 100, 64)
    assert result == jsonl(root / "run" / "metrics.jsonl")[0]
    printed = capsys.readouterr().out
    assert "reference statistics of MNIST test (100 images) cached" in printed
    assert "real-data floor (64 MNIST train digits) cached" in printed
    # the reference statistics and the floor, each named by the extractor
    assert sorted(p.name for p in cache.iterdir()) == [
        f"mnist-floor-{sha[:16]}-n64-seed0.json", f"mnist-test-{sha[:16]}.npz"]
    assert set(result["real"]) == {"frechet", "classifier_score", "class_coverage",
                                   "smallest_class", "class_entropy", "confident", "precision",
                                   "recall", "density", "coverage"}
    assert "real data" in printed  # the table's column

    # cached: neither split is read again, and the numbers do not move
    for name in ("t10k-images-idx3-ubyte", "train-images-idx3-ubyte"):
        shutil.move(root / "data" / name, tmp_path / name)
    try:
        assert evaluate_main(args[:-1] + [str(tmp_path / "again.json")]) == 0
    finally:
        for name in ("t10k-images-idx3-ubyte", "train-images-idx3-ubyte"):
            shutil.move(tmp_path / name, root / "data" / name)
    assert json.loads((tmp_path / "again.json").read_text()) == result
    printed = capsys.readouterr().out
    assert "cached in" not in printed and "class shares" in printed


def test_a_conditional_uniform_noise_checkpoint_gives_the_plugins_numbers(mnist_run, tmp_path):
    """An AC-GAN-shaped conf: uniform noise, a class per sample, pixels in [-1, 1]."""
    root, _ = mnist_run
    conf = conditional_conf(tmp_path / "conditional.py")
    out, cache = tmp_path / "run", root / "cache"
    assert train_main(["-d", "mnist", "--num_passes", "1", "--iters_per_pass", "3",
                       "--batch_size", "8", "--output_dir", str(out), "--set", f"conf={conf}",
                       "--set", f"data_dir={root / 'data'}",
                       "--set", "plugins=[metrics, checkpoint]",
                       "--set", f"plugin_options.metrics.classifier={root / 'tiny.npz'}",
                       "--set", f"plugin_options.metrics.reference_cache={cache}",
                       "--set", "plugin_options.metrics.n_samples=40"]) == 0
    assert evaluate_main([str(out), "--num", "40", "--classifier", str(root / "tiny.npz"),
                          "--reference_cache", str(cache),
                          "--json", str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["generator_inputs"] == {"noise": "uniform", "noise_dim": 4, "num_classes": 10,
                                          "pixel_range": [-1.0, 1.0]}
    assert "conditional_accuracy" in result
    assert result == jsonl(out / "metrics.jsonl")[0]


def test_without_the_training_split_there_is_no_floor_and_a_warning(mnist_run, tmp_path,
                                                                     capsys):
    root, _ = mnist_run
    test_only = tmp_path / "test_only"
    test_only.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(root / "data" / name, test_only / name)
    assert evaluate_main([str(root / "run"), "--num", "16", "--classifier",
                          str(root / "tiny.npz"), "--data_dir", str(test_only),
                          "--reference_cache", str(tmp_path / "cache"),
                          "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["real"] is None
    assert "metrics: no real-data floor (MNIST file missing" in capsys.readouterr().out


def test_statistics_of_another_extractor_are_refused(mnist_run, tmp_path, capsys):
    root, sha = mnist_run
    cache = tmp_path / "cache"
    assert evaluate_main([str(root / "run"), "--num", "16", "--classifier",
                          str(root / "tiny.npz"), "--reference_cache", str(cache)]) == 0
    paddle.seed(1)
    other_sha = save_classifier(LeNet(channels=(4, 8), hidden=16), tmp_path / "other.npz")
    # the tiny classifier's statistics where the other one's belong
    evaluate.reference_cache_path(cache, sha).rename(
        evaluate.reference_cache_path(cache, other_sha))
    capsys.readouterr()
    assert evaluate_main([str(root / "run"), "--classifier", str(tmp_path / "other.npz"),
                          "--reference_cache", str(cache)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "reference statistics" in err and sha in err


def test_cifar_checkpoint_has_no_metrics(tmp_path, capsys):
    batches = tmp_path / "cifar" / "cifar-10-batches-bin"
    batches.mkdir(parents=True)
    for i in range(1, 6):
        records = np.random.default_rng(i).integers(0, 256, (4, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        (batches / f"data_batch_{i}.bin").write_bytes(records.tobytes())
    assert train_main(["-d", "cifar", "--use_gpu", "0", "--num_passes", "1",
                       "--iters_per_pass", "1", "--batch_size", "4",
                       "--output_dir", str(tmp_path / "run"),
                       "--set", f"data_dir={tmp_path / 'cifar'}",
                       "--set", "plugins=[checkpoint]"]) == 0
    capsys.readouterr()
    assert evaluate_main([str(tmp_path / "run")]) == 2
    assert "image metrics are MNIST-only" in capsys.readouterr().err


# --- the pinned extractor ----------------------------------------------------------------------


def test_the_pinned_extractor_is_the_shipped_file():
    model = evaluate.load_extractor()
    assert model.sha256 == evaluate.PINNED_SHA256
    sidecar = json.loads(evaluate.PINNED_EXTRACTOR.with_suffix(".json").read_text())
    assert sidecar["sha256"] == evaluate.PINNED_SHA256 and sidecar["test_accuracy"] >= 0.985


def test_a_tampered_pinned_extractor_is_refused_even_with_a_matching_sidecar(tmp_path,
                                                                            monkeypatch):
    tampered = tmp_path / "lenet_mnist.npz"
    data = bytearray(evaluate.PINNED_EXTRACTOR.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights
    tampered.write_bytes(bytes(data))
    sidecar = json.loads(evaluate.PINNED_EXTRACTOR.with_suffix(".json").read_text())
    tampered.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ExtractorError, match="SHA-256"):  # the sidecar still names the original
        evaluate.load_extractor(tampered, evaluate.PINNED_SHA256)
    from paddle_gan.metrics.classifier import file_sha256

    sidecar["sha256"] = file_sha256(tampered)  # rewritten to agree: only the pin catches it
    tampered.with_suffix(".json").write_text(json.dumps(sidecar))
    monkeypatch.setattr(evaluate, "PINNED_EXTRACTOR", tampered)
    with pytest.raises(ExtractorError, match="pinned extractor"):
        evaluate.load_extractor()
    # as someone's own classifier it passes the sidecar check but is no readable classifier
    with pytest.raises(ExtractorError, match="not a readable classifier"):
        evaluate.load_extractor(tampered)
