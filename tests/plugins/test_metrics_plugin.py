"""The metrics plugin on tiny runs: a JSON line and a console line per pass, the options, training
bit-identical with and without it, NaN written as null, the result published on the state, and
the image cases (an untrained tiny extractor: these tests are about plumbing, not quality)."""
import json
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import paddle
import pytest

from paddle_gan.checkpoint.files import load_checkpoint
from paddle_gan.checkpoint.reader import find_checkpoint
from paddle_gan.cli import train as cli
from paddle_gan.config import Settings
from paddle_gan.metrics.classifier import LeNet, file_sha256, save_classifier
from paddle_gan.plugins.metrics import MetricsPlugin
from paddle_gan.trainer import train
from tests.helpers import tiny_state

TWO_D_KEYS = {"inside", "coverage", "sliced_w1", "ks", "distribution", "n_samples", "seed", "grid",
              "n_projections", "ks_points", "checkpoint", "pass", "data", "global_step", "real",
              "generator_inputs"}
IMAGE_KEYS = {"frechet", "classifier_score", "class_shares", "class_entropy", "class_coverage",
              "smallest_class", "confident", "precision", "recall", "density", "coverage",
              "confident_threshold", "nearest_k", "extractor_sha256", "n_samples",
              "reference_split", "reference_n_samples", "seed", "checkpoint", "pass", "data",
              "global_step", "real", "generator_inputs"}


def strict_lines(path: Path) -> list:
    """metrics.jsonl, refusing the NaN/Infinity that Python's json would otherwise accept."""
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def uniform_args(out: Path, plugins: str, *extra: str, passes: int = 2):
    return ["-d", "uniform", "--num_passes", str(passes), "--iters_per_pass", "15",
            "--batch_size", "32", "--set", "data_size=4096", "--output_dir", str(out),
            "--set", f"plugins=[{plugins}]", "--set", "plugin_options.console.every_n_iters=100",
            *extra]


def test_a_json_line_and_a_console_line_per_pass(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(uniform_args(out, "console, metrics, checkpoint")) == 0
    lines = strict_lines(out / "metrics.jsonl")
    assert [(r["pass"], r["global_step"]) for r in lines] == [(0, 15), (1, 30)]
    for record in lines:
        assert set(record) == TWO_D_KEYS
        assert (record["data"], record["n_samples"], record["seed"]) == ("uniform", 10_000, 0)
        assert Path(record["checkpoint"]).is_dir()  # the checkpoint holding exactly these weights
        assert 0.0 <= record["inside"] <= 1.0 and record["sliced_w1"] >= 0.0
    assert lines[1]["checkpoint"] == str(out / "checkpoints" / "step-00000030-pass-0001")
    printed = capsys.readouterr().out
    for pass_id in (0, 1):
        assert f"pass {pass_id} metrics: inside " in printed
    assert "sliced_w1" in (out / "train.log").read_text()


def test_with_ema_it_can_measure_g_as_trained_beside_its_average(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(uniform_args(out, "metrics", "--set", "ema.decay=0.9",
                                 "--set", "plugin_options.metrics.n_samples=500",
                                 "--set", "plugin_options.metrics.training_generator=true",
                                 passes=1)) == 0
    (record,) = strict_lines(out / "metrics.jsonl")
    trained = record.pop("training_generator")
    assert set(record) == TWO_D_KEYS and set(trained) == {"inside", "coverage", "sliced_w1", "ks"}
    assert trained["sliced_w1"] != record["sliced_w1"]  # two generators, the same noise
    line = next(line for line in capsys.readouterr().out.splitlines() if "metrics:" in line)
    assert f"| G as trained: inside {trained['inside']:.4g} " in line
    without = tmp_path / "without"  # no average, nothing else to measure
    assert cli.main(uniform_args(without, "metrics",
                                 "--set", "plugin_options.metrics.n_samples=500",
                                 "--set", "plugin_options.metrics.training_generator=true",
                                 passes=1)) == 0
    assert "training_generator" not in strict_lines(without / "metrics.jsonl")[0]


def test_options_frequency_sample_count_and_off(tmp_path):
    out = tmp_path / "every2"
    assert cli.main(uniform_args(out, "metrics", "--set", "plugin_options.metrics.every_n_passes=2",
                                 "--set", "plugin_options.metrics.n_samples=300",
                                 "--set", "plugin_options.metrics.seed=5", passes=3)) == 0
    lines = strict_lines(out / "metrics.jsonl")
    # every second pass, and always the last one; no checkpoint plugin, so no checkpoint named
    assert [r["pass"] for r in lines] == [1, 2]
    assert {(r["n_samples"], r["seed"], r["checkpoint"]) for r in lines} == {(300, 5, None)}

    off = tmp_path / "off"
    assert cli.main(uniform_args(off, "metrics",
                                 "--set", "plugin_options.metrics.every_n_passes=0")) == 0
    assert not (off / "metrics.jsonl").exists()


def checkpoint_contents(run_dir: Path):
    _, arrays, meta = find_checkpoint(run_dir)
    return arrays, {k: meta[k] for k in ("counters", "rng", "scheduler", "sampler")}


def assert_same_training(run_a: Path, run_b: Path):
    arrays_a, meta_a = checkpoint_contents(run_a)
    arrays_b, meta_b = checkpoint_contents(run_b)
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        assert np.array_equal(arrays_a[key], arrays_b[key]), key
    assert meta_a == meta_b


def test_training_is_bit_identical_with_and_without_the_plugin(tmp_path):
    plain, measured = tmp_path / "plain", tmp_path / "measured"
    assert cli.main(uniform_args(plain, "checkpoint")) == 0
    assert cli.main(uniform_args(measured, "metrics, checkpoint")) == 0
    assert (measured / "metrics.jsonl").is_file()
    assert_same_training(plain, measured)


# --- NaN and VisualDL --------------------------------------------------------------------------


class NaNGenerator(paddle.nn.Layer):
    """A diverged generator: every point is NaN."""

    def forward(self, noise):
        return noise[:, :2] * float("nan")


def test_nan_metrics_are_written_as_null(tmp_path, capsys):
    plugin = MetricsPlugin(MetricsPlugin.Options(n_samples=50))
    settings = Settings(data="uniform", plugins=["metrics"], num_passes=1)
    state = SimpleNamespace(settings=settings, output_dir=tmp_path, pass_id=0, global_step=7,
                            nets=SimpleNamespace(generator=NaNGenerator(), noise_dim=10,
                                                 num_classes=0),
                            last_checkpoint=None,
                            dataset=SimpleNamespace(pixel_range=None))
    plugin.on_train_start(state)
    plugin.on_pass_end(state)
    (record,) = strict_lines(tmp_path / "metrics.jsonl")
    assert (record["sliced_w1"], record["ks"], record["inside"]) == (None, None, 0.0)


def test_the_result_is_published_and_names_the_checkpoint_of_its_step(tmp_path):
    # Listed before the checkpoint plugin, which still saves first: the pass's checkpoint exists
    # when the metrics are taken, and metrics.jsonl names it.
    from paddle_gan.plugins import build_plugins

    state = tiny_state(tmp_path, passes=2, iters=5)
    plugins = build_plugins(["metrics", "checkpoint"],
                            {"metrics": {"n_samples": 100}}, is_writer=True)
    state.checkpointer.plugins = plugins
    train(state, plugins)
    lines = strict_lines(tmp_path / "metrics.jsonl")
    assert state.metrics == lines[-1] and state.metrics["global_step"] == 10
    assert [r["checkpoint"] for r in lines] == [
        str(tmp_path / "checkpoints" / name)
        for name in ("step-00000005-pass-0000", "step-00000010-pass-0001")]
    assert load_checkpoint(lines[0]["checkpoint"])[1]["saved_at"]["global_step"] == 5


# --- images ------------------------------------------------------------------------------------


def write_idx(folder: Path, split: str, count: int, seed: int) -> None:
    images, labels = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                      "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}[split]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / images).write_bytes(struct.pack(">iIII", 2051, count, 28, 28)
                                  + rng.integers(0, 256, (count, 28, 28), dtype=np.uint8).tobytes())
    (folder / labels).write_bytes(struct.pack(">iI", 2049, count)
                                  + rng.integers(0, 10, count, dtype=np.uint8).tobytes())


def image_args(data: str, data_dir: Path, out: Path, plugins: str, *extra: str):
    return ["-d", data, "--use_gpu", "0", "--num_passes", "1", "--iters_per_pass", "2",
            "--batch_size", "8", "--output_dir", str(out), "--set", f"data_dir={data_dir}",
            "--set", f"plugins=[{plugins}]", *extra]


@pytest.fixture(scope="module")
def mnist_setup(tmp_path_factory):
    """(data dir with both splits, an untrained tiny extractor, its options for the plugin)."""
    root = tmp_path_factory.mktemp("mnist")
    write_idx(root / "data", "train", 64, 0)
    write_idx(root / "data", "test", 40, 1)
    paddle.seed(3)
    classifier = root / "tiny.npz"
    save_classifier(LeNet(channels=(2, 4), hidden=8), classifier)
    options = ["--set", f"plugin_options.metrics.classifier={classifier}",
               "--set", f"plugin_options.metrics.reference_cache={root / 'cache'}",
               "--set", "plugin_options.metrics.n_samples=32"]
    return root / "data", classifier, options


def test_mnist_metrics_and_training_unchanged_by_loading_the_extractor(mnist_setup, tmp_path):
    data_dir, classifier, options = mnist_setup
    plain, measured = tmp_path / "plain", tmp_path / "measured"
    assert cli.main(image_args("mnist", data_dir, plain, "checkpoint")) == 0
    assert cli.main(image_args("mnist", data_dir, measured, "metrics, checkpoint", *options)) == 0
    (record,) = strict_lines(measured / "metrics.jsonl")
    assert set(record) == IMAGE_KEYS
    assert (record["n_samples"], record["reference_split"], record["reference_n_samples"]) == (
        32, "test", 40)
    assert record["extractor_sha256"] == json.loads(classifier.with_suffix(".json").read_text())[
        "sha256"]
    assert len(record["class_shares"]) == 10
    assert_same_training(plain, measured)  # building the extractor drew no training randomness


def test_mnist_without_its_test_split_trains_on_with_one_warning(tmp_path, capsys):
    data_dir = tmp_path / "train_only"
    write_idx(data_dir, "train", 64, 0)
    out = tmp_path / "run"
    assert cli.main(image_args("mnist", data_dir, out, "metrics",
                               "--set", f"plugin_options.metrics.reference_cache={tmp_path}")) == 0
    assert "metrics plugin disabled: no reference statistics" in capsys.readouterr().out
    assert not (out / "metrics.jsonl").exists()


def test_cifar_says_image_metrics_are_mnist_only(tmp_path, capsys):
    batches = tmp_path / "cifar" / "cifar-10-batches-bin"
    batches.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        records = rng.integers(0, 256, (4, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        (batches / f"data_batch_{i}.bin").write_bytes(records.tobytes())
    out = tmp_path / "run"
    assert cli.main(image_args("cifar", tmp_path / "cifar", out, "metrics")) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if "metrics" in line]
    assert len(printed) == 1 and "image metrics are MNIST-only" in printed[0]
    assert not (out / "metrics.jsonl").exists()


def test_a_classifier_that_does_not_match_its_sidecar_stops_the_run(mnist_setup, tmp_path,
                                                                     capsys):
    data_dir, classifier, options = mnist_setup
    altered = tmp_path / "altered.npz"
    data = bytearray(classifier.read_bytes())
    data[len(data) // 2] ^= 0xFF
    altered.write_bytes(bytes(data))
    altered.with_suffix(".json").write_text(classifier.with_suffix(".json").read_text())
    code = cli.main(image_args("mnist", data_dir, tmp_path / "run", "metrics", *options,
                               "--set", f"plugin_options.metrics.classifier={altered}"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: metrics plugin:") and "SHA-256" in err


def test_a_damaged_classifier_with_a_matching_sidecar_stops_the_run(mnist_setup, tmp_path,
                                                                     capsys):
    data_dir, classifier, options = mnist_setup
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(classifier.read_bytes()[:-100])
    damaged.with_suffix(".json").write_text(json.dumps({"sha256": file_sha256(damaged)}))
    code = cli.main(image_args("mnist", data_dir, tmp_path / "run", "metrics", *options,
                               "--set", f"plugin_options.metrics.classifier={damaged}"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"error: metrics plugin: {damaged}: not a readable classifier")


# --- the mixtures ------------------------------------------------------------------------------


def test_a_ring_run_logs_the_mode_metrics_next_to_real_data(tmp_path, capsys):
    out = tmp_path / "ring"
    args = ["-d", "ring", "--num_passes", "1", "--iters_per_pass", "10", "--batch_size", "32",
            "--set", "data_size=4096", "--output_dir", str(out), "--set", "ring.modes=5",
            "--set", "plugins=[samples, metrics]"]
    assert cli.main(args) == 0
    (record,) = strict_lines(out / "metrics.jsonl")
    assert {"modes", "high_quality", "reverse_kl", "mode_counts", "sliced_w1", "ks",
            "high_quality_sigmas", "real"} <= set(record) and "inside" not in record
    assert (record["n_samples"], record["data"]) == (2500, "ring")  # the published protocol
    assert record["distribution"] == {"name": "ring", "modes": 5, "radius": 1.0, "sigma": 0.01}
    assert len(record["mode_counts"]) == 5 and record["real"]["modes"] == 5
    printed = capsys.readouterr().out
    assert f"pass 0 metrics: modes {record['modes']}/5 (real 5/5) high_quality " in printed
    assert "/5 modes captured" in printed  # the samples plugin, on the fixed noise
