"""The Keras AC-GAN conf: its layers and parameter counts as the Keras example's, Glorot
initialisation, the class embedding multiplying the noise, D's dropout and two heads, the run
config's settings, and one short run on tiny MNIST files."""
import numpy as np
import paddle
import pytest

from paddle_gan.cli.train import main
from paddle_gan.config import load_conf_module, resolve_settings
from paddle_gan.networks import build_from_conf
from tests.helpers import REPO_ROOT, tiny_mnist

# Counted from the Keras example's layers (weights + biases): the embedding 10x100, Dense
# 100->1024 and 1024->6272, convs 128->256 5x5, 256->128 5x5, 128->1 2x2; D's convs 1->32,
# 32->64, 64->128, 128->256 (3x3) and the heads 12544->1 and 12544->10.
G_PARAMETERS = 1000 + 103_424 + 6_428_800 + 819_456 + 819_328 + 513
D_PARAMETERS = 320 + 18_496 + 73_856 + 295_168 + 12_545 + 125_450


@pytest.fixture(scope="module")
def conf():
    return load_conf_module(REPO_ROOT / "conf/acgan.py")


def count(net):
    return sum(int(np.prod(p.shape)) for p in net.parameters())


def test_the_networks_are_the_keras_example_s(conf):
    paddle.seed(0)
    gen = build_from_conf(conf, "build_generator", (1, 28, 28))
    dis = build_from_conf(conf, "build_discriminator", (1, 28, 28), 1)
    assert (count(gen), count(dis)) == (G_PARAMETERS, D_PARAMETERS)
    noise = paddle.uniform([6, 100], min=-1, max=1)
    labels = paddle.to_tensor(np.array([0, 1, 2, 3, 4, 9]))
    images = gen(noise, labels)
    assert list(images.shape) == [6, 1, 28, 28] and float(images.abs().max()) <= 1
    dis.eval()
    adversarial, classes = dis(images)
    assert list(adversarial.shape) == [6, 1] and list(classes.shape) == [6, 10]
    dis.train()  # dropout 0.3 after every convolution, in training only
    assert not np.allclose(dis(images)[1].numpy(), dis(images)[1].numpy())
    # a class multiplies the noise: the embedding scales each noise dimension
    embedded = noise * gen.embedding(labels)
    np.testing.assert_allclose(gen.dense1(embedded).numpy(), gen.dense1(
        noise * gen.embedding.weight.numpy()[labels.numpy()]).numpy(), rtol=1e-6)


def test_glorot_initialisation_and_zero_biases(conf):
    paddle.seed(1)
    gen = build_from_conf(conf, "build_generator", (1, 28, 28))
    dis = build_from_conf(conf, "build_discriminator", (1, 28, 28), 1)
    weight = gen.conv2.weight.numpy()  # Glorot normal: std sqrt(2 / (fan_in + fan_out))
    assert weight.std() == pytest.approx(np.sqrt(2 / (256 * 25 + 128 * 25)), rel=0.02)
    limit = np.sqrt(6 / (128 * 9 + 256 * 9))  # D's Glorot uniform
    assert np.abs(dis.conv4.weight.numpy()).max() <= limit
    assert dis.conv4.weight.numpy().std() == pytest.approx(limit / np.sqrt(3), rel=0.02)
    assert all(not p.numpy().any() for net in (gen, dis) for n, p in net.named_parameters()
               if n.endswith("bias"))


def test_the_run_config_is_the_example_s_training():
    s = resolve_settings(REPO_ROOT / "conf/mnist_acgan.yaml", [], {}, None)
    assert s.resolved_conf_path().resolve() == REPO_ROOT / "conf/acgan_bn.py"  # the one that learns
    assert (s.batch_size, s.noise, s.iters_per_pass, s.num_passes) == (100, "uniform", "epoch", 100)
    assert (s.loss.name, s.loss.aux_weight, s.loss.g_batches) == ("non_saturating", 1.0, 2)
    assert (s.optimizer.name, s.optimizer.learning_rate, s.optimizer.beta1) == ("adam", 2e-4, 0.5)
    assert (s.scheduler.name, s.scheduler.d_steps, s.scheduler.g_steps) == ("alternate", 1, 1)
    assert "history" in s.plugins and s.plugins.index("history") < s.plugins.index("visualdl")


def test_a_short_run_trains_and_draws_the_class_grid(tmp_path, capsys):
    data = tiny_mnist(tmp_path / "mnist", count=12)
    out = tmp_path / "run"
    assert main(["--config", str(REPO_ROOT / "conf/mnist_acgan.yaml"), "--num_passes", "1",
                 "--iters_per_pass", "2", "--batch_size", "4", "--set", f"data_dir={data}",
                 "--set", "plugins=[console, samples, checkpoint]",
                 "--set", "plugin_options.console.every_n_iters=1",
                 "--output_dir", str(out)]) == 0
    log = capsys.readouterr().out
    assert "d_aux" in log and "g_aux" in log and "trained gen" in log
    assert (out / "samples" / "pass-0000.png").is_file()


# The later Keras generator (conf/acgan_bn.py): the embedding, Dense 100->3456, transposed convs
# 384->192, 192->96, 96->1 (5x5) and two batch norms of 192 and 96 channels (scale, shift and the
# running mean and variance, which Paddle keeps as non-trainable parameters and Keras counts too).
BN_G_PARAMETERS = (1000 + 349_056 + 1_843_392 + 460_896 + 2_401 + 4 * 192 + 4 * 96)


def test_the_batch_norm_generator_is_the_later_keras_example_s():
    bn_conf = load_conf_module(REPO_ROOT / "conf/acgan_bn.py")
    paddle.seed(0)
    gen = build_from_conf(bn_conf, "build_generator", (1, 28, 28))
    dis = build_from_conf(bn_conf, "build_discriminator", (1, 28, 28), 1)
    assert (count(gen), count(dis)) == (BN_G_PARAMETERS, D_PARAMETERS)
    assert (bn_conf.NUM_CLASSES, bn_conf.NOISE_DIM, bn_conf.DEFAULTS["loss"]["g_batches"]) == (
        10, 100, 2)
    images = gen(paddle.uniform([4, 100], min=-1, max=1), paddle.to_tensor(np.arange(4)))
    assert list(images.shape) == [4, 1, 28, 28] and float(images.abs().max()) <= 1
    # a batch of zero noise is normalised by the batch norms, not pinned at tanh's floor
    gen.train()
    flat = gen(paddle.zeros([4, 100]), paddle.to_tensor(np.arange(4)))
    assert float((flat < -0.99).astype("float32").mean()) < 0.5
