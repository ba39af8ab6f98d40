"""The DCGAN conf: v1's filter/padding rule (and its error), exact layer sizes for MNIST and CIFAR,
v1's initialisation, and parameter names shared exactly by the three networks built from it."""
from pathlib import Path

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_gan.config import OptimizerSettings, Settings, load_conf_module
from paddle_gan.errors import ConfigError
from paddle_gan.networks import build_from_conf, build_networks

REPO = Path(__file__).resolve().parents[2]
conf = load_conf_module(REPO / "conf" / "gan_conf_image.py")

MNIST, CIFAR = (1, 28, 28), (3, 32, 32)


@pytest.mark.parametrize(
    "big, small, expected",
    [
        (28, 14, (4, 1)),  # t = 2
        (14, 7, (4, 1)),
        (7, 3, (5, 1)),  # t = 3
        (10, 4, (4, 0)),  # t = 4
        (11, 4, (5, 0)),  # t = 5
        (32, 16, (4, 1)),
    ],
)
def test_filter_and_padding_follow_v1(big, small, expected):
    assert conf.filter_and_padding(big, small) == expected


@pytest.mark.parametrize("big, small", [(7, 4), (12, 4), (28, 28)])  # t = 1, 6, -26
def test_sizes_the_rule_cannot_reach_are_an_error(big, small):
    with pytest.raises(ValueError, match=f"size {big} to {small}.*expected 2..5"):
        conf.filter_and_padding(big, small)


@pytest.mark.parametrize("small", [3, 4, 7, 8, 14, 16])
@pytest.mark.parametrize("extra", [0, 1, 2, 3])  # t = 2..5
def test_every_accepted_pair_maps_exactly_both_ways(small, extra):
    big = (small - 1) * 2 + 2 + extra
    x = paddle.zeros([1, 1, big, big])
    down = conf._conv(1, 1, big, small)
    up = conf._deconv(1, 1, small, big)
    assert down(x).shape[2:] == [small, small]
    assert up(down(x)).shape[2:] == [big, big]


@pytest.mark.parametrize("shape", [MNIST, CIFAR])
def test_output_shapes(shape):
    paddle.seed(0)
    gen, dis = conf.build_generator(shape), conf.build_discriminator(shape)
    noise = paddle.randn([2, conf.NOISE_DIM])
    images = gen(noise)
    assert images.shape == [2, *shape]
    assert float(images.abs().max()) <= 1.0  # tanh
    assert dis(images).shape == [2, 2]


@pytest.mark.parametrize(
    "shape, sizes",
    [(MNIST, [28, 14, 7, 3]), (CIFAR, [32, 16, 8, 4])],
)
def test_intermediate_sizes_are_s2_s4_s8(shape, sizes):
    gen, dis = conf.build_generator(shape), conf.build_discriminator(shape)
    size, s2, s4, s8 = sizes
    x = paddle.zeros([1, *shape])
    seen = [x.shape[2]]
    for layer in (dis.conv1, dis.conv2, dis.conv3):
        x = layer(x)
        seen.append(x.shape[2])
    assert seen == sizes
    assert x.shape[1] == 4 * conf.DF_DIM
    assert gen.fc.weight.shape == [conf.NOISE_DIM, s8 * s8 * 4 * conf.GF_DIM]
    assert dis.out.weight.shape == [s8 * s8 * 4 * conf.DF_DIM, 2]


def test_v1_initialisation():
    paddle.seed(0)
    gen, dis = conf.build_generator(CIFAR), conf.build_discriminator(CIFAR)
    for layer in (gen.fc, gen.deconv1, gen.deconv3, dis.conv1, dis.conv3, dis.out):
        weight = layer.weight.numpy()
        assert abs(weight.mean()) < 0.002 and weight.std() == pytest.approx(0.02, rel=0.15)
        assert not layer.bias.numpy().any()
    for bn in (gen.fc_bn, gen.deconv2_bn, dis.conv2_bn, dis.conv3_bn):
        scale = bn.weight.numpy()
        assert scale.mean() == pytest.approx(1.0, abs=0.01) and 0.01 < scale.std() < 0.03
        assert not bn.bias.numpy().any()
    # No batch norm after G's last layer or D's first (v1); the fc output is normalised per
    # feature; every batch norm uses batch statistics (v1's use_global_stats=False).
    batch_norm = nn.layer.norm._BatchNormBase
    bns = {name: sub for name, sub in gen.named_sublayers() if isinstance(sub, batch_norm)}
    assert set(bns) == {"fc_bn", "deconv1_bn", "deconv2_bn"}
    assert isinstance(bns["fc_bn"], nn.BatchNorm1D)
    assert bns["fc_bn"].weight.shape == [gen.fc.weight.shape[1]]
    dis_bns = {name: sub for name, sub in dis.named_sublayers() if isinstance(sub, batch_norm)}
    assert set(dis_bns) == {"conv2_bn", "conv3_bn"}
    assert all(bn._use_global_stats is False for bn in [*bns.values(), *dis_bns.values()])


@pytest.mark.parametrize("shape", [MNIST, CIFAR])
def test_three_networks_share_every_name(shape):
    nets = build_networks(conf, shape, Settings(optimizer=OptimizerSettings(learning_rate=2e-4)))
    both = nets.gen_training.state_dict()
    dis_names = set(nets.dis_training.state_dict())
    gen_names = set(nets.generator.state_dict())
    assert dis_names == {k for k in both if k.startswith("dis.")}
    assert gen_names == {k for k in both if k.startswith("gen.")}
    assert "gen.deconv1_bn._mean" in gen_names and "dis.out.weight" in dis_names
    for name, value in nets.generator.state_dict().items():  # synced once at the start
        np.testing.assert_array_equal(value.numpy(), both[name].numpy())
    for name, value in nets.dis_training.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), both[name].numpy())


@pytest.mark.parametrize("shape", [(2,), (1, 28, 32), (1, 4, 4)])
def test_non_square_or_tiny_samples_are_one_config_error_line(shape):
    # The conf raises a plain ValueError; the library reports it as one line naming the file.
    for builder in ("build_generator", "build_discriminator"):
        with pytest.raises(ConfigError, match=r"gan_conf_image.py, line \d+: ValueError: .*square"):
            build_from_conf(conf, builder, shape)


def test_v1_defaults():
    assert conf.NOISE_DIM == 100 and conf.GF_DIM == conf.DF_DIM == 64
    assert conf.DEFAULTS == {
        "batch_size": 128,
        "num_passes": 100,
        "iters_per_pass": 1000,
        "optimizer": {"learning_rate": 2e-4, "beta1": 0.5},
    }
