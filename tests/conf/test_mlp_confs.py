"""The two TensorFlow MLP GANs: their networks as their docstrings say, their run configs train
on MNIST in their own pixel range and noise, and their defaults are the systems' settings."""
import numpy as np
import pytest

from paddle_gan.cli.train import main
from paddle_gan.config import load_conf_module, resolve_settings
from paddle_gan.networks import build_from_conf
from tests.helpers import REPO_ROOT, tiny_mnist

CONFS = {"mlp": "conf/mlp_gan.py", "leaky": "conf/leaky_mlp_gan.py"}


@pytest.mark.parametrize("name, low, high", [("mlp", 0.0, 1.0), ("leaky", -1.0, 1.0)])
def test_networks_and_output_range(name, low, high):
    import paddle

    conf = load_conf_module(REPO_ROOT / CONFS[name])
    gen = build_from_conf(conf, "build_generator", (1, 28, 28))
    dis = build_from_conf(conf, "build_discriminator", (1, 28, 28), 1)
    shapes = {n: p.shape for n, p in gen.named_parameters()}
    assert shapes == {"hidden.weight": [100, 128], "hidden.bias": [128],
                      "out.weight": [128, 784], "out.bias": [784]}
    assert {n: p.shape for n, p in dis.named_parameters()} == {
        "hidden.weight": [784, 128], "hidden.bias": [128], "out.weight": [128, 1],
        "out.bias": [1]}
    images = gen(paddle.uniform([16, 100], min=-1, max=1) * 50)  # saturated: the range's ends
    assert list(images.shape) == [16, 1, 28, 28]
    assert low <= float(images.min()) and float(images.max()) <= high
    assert list(dis(images).shape) == [16, 1]
    assert all(not p.numpy().any() for n, p in gen.named_parameters() if n.endswith("bias"))


def test_the_defaults_are_the_systems_settings():
    mlp = resolve_settings(REPO_ROOT / "conf/mnist_mlp.yaml", [], {}, None)
    assert (mlp.batch_size, mlp.noise, mlp.pixel_range, mlp.loss.name) == (
        256, "uniform", [0.0, 1.0], "non_saturating")
    assert (mlp.optimizer.name, mlp.optimizer.learning_rate, mlp.optimizer.beta1) == (
        "adam", 1e-3, 0.9)
    assert mlp.optimizer_of("dis") == mlp.optimizer_of("gen") == mlp.optimizer
    assert (mlp.scheduler.name, mlp.scheduler.d_steps, mlp.scheduler.g_steps) == ("alternate", 1,
                                                                                 1)
    assert mlp.num_passes * mlp.iters_per_pass == 100_000  # 50,000 TF iterations of D then G
    leaky = resolve_settings(REPO_ROOT / "conf/mnist_leaky.yaml", [], {}, None)
    assert (leaky.batch_size, leaky.loss.real_label, leaky.optimizer.learning_rate,
            leaky.pixel_range) == (100, 0.9, 2e-3, [-1.0, 1.0])


@pytest.mark.parametrize("name", ["mlp", "leaky"])
def test_a_run_trains_in_its_pixel_range_and_noise(tmp_path, name):
    data = tiny_mnist(tmp_path / "mnist")
    out = tmp_path / "run"
    assert main(["--config", f"conf/mnist_{name}.yaml", "--num_passes", "2",
                 "--iters_per_pass", "4", "--batch_size", "16", "--output_dir", str(out),
                 "--set", f"data_dir={data}", "--set", "plugins=[samples,checkpoint]"]) == 0
    assert (out / "samples" / "pass-0001.png").is_file()
    from paddle_gan.checkpoint.files import load_checkpoint

    arrays, meta = load_checkpoint(out / "checkpoints" / "step-00000008-pass-0001")
    assert meta["sample"]["noise"] == "uniform"
    fixed = arrays["fixed_noise"]
    assert fixed.min() >= -1.0 and fixed.max() < 1.0 and np.abs(fixed).max() > 0.9
    low, high = meta["sample"]["pixel_range"]
    assert (low, high) == ((0.0, 1.0) if name == "mlp" else (-1.0, 1.0))
