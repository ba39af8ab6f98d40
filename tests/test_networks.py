"""The three networks built from one conf module, and sync of shared parameters by name."""
import types

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_gan.config import EmaSettings, LossSettings, Settings, load_conf_module
from paddle_gan.errors import SyncError
from paddle_gan.losses import V1, Objective
from paddle_gan.networks import build_networks, copy_pairs, shared_pairs
from paddle_gan.noise import RandomStream
from paddle_gan.roles import DIS, GEN
from paddle_gan.step import GanStep
from tests.helpers import REPO_ROOT as REPO


def sync_by_name(src, dst):
    """Copy every shared parameter and statistic from src to dst; returns the names."""
    pairs = shared_pairs(src, dst)
    copy_pairs(pairs)
    return [name for name, _, _ in pairs]


def one_step(step, decision, seed):
    """A step that trains `decision` on a random batch of 16 points."""
    rng = np.random.default_rng(seed)
    forward = step.forward(*step.to_device(rng.random((16, 2), dtype=np.float32),
                                           rng.standard_normal((16, 10), dtype=np.float32)))
    step.train(forward, decision)


@pytest.fixture
def nets():
    paddle.seed(0)
    return build_networks(load_conf_module(REPO / "conf/gan_conf.py"), (2,), Settings())


def values(layer):
    return {name: t.numpy().copy() for name, t in layer.state_dict().items()}


def test_names_are_structural_and_shared(nets):
    gen_training = set(nets.gen_training.state_dict())
    assert set(nets.dis_training.state_dict()) <= gen_training
    assert set(nets.generator.state_dict()) <= gen_training
    assert "dis.hidden_bn._mean" in gen_training and "gen.out.weight" in gen_training


def test_networks_own_separate_parameters(nets):
    before = values(nets.generator)
    with paddle.no_grad():
        nets.gen_training.gen.out.weight.set_value(nets.gen_training.gen.out.weight * 0 + 5)
    assert np.array_equal(values(nets.generator)["gen.out.weight"], before["gen.out.weight"])


def test_equal_after_sync_and_untouched_when_unshared(nets):
    with paddle.no_grad():
        for param in nets.dis_training.parameters():
            param.set_value(paddle.randn(param.shape))
    gen_before = values(nets.gen_training.gen)
    names = sync_by_name(nets.dis_training, nets.gen_training)
    assert names and all(name.startswith("dis.") for name in names)
    dis, gen_training = values(nets.dis_training), values(nets.gen_training)
    for name, value in dis.items():
        assert np.array_equal(gen_training[name], value), name
    for name, value in values(nets.gen_training.gen).items():
        assert np.array_equal(gen_before[name], value), name


def test_sync_copies_values_not_autograd_links():
    src, dst = nn.Linear(3, 2), nn.Linear(3, 2)
    sync_by_name(src, dst)
    dst(paddle.randn([4, 3])).sum().backward()
    assert dst.weight.is_leaf and dst.weight.grad is not None
    assert src.weight.grad is None and src.bias.grad is None


def test_size_mismatch_names_the_parameter():
    class A(nn.Layer):
        def __init__(self, n):
            super().__init__()
            self.fc = nn.Linear(2, n)

    with pytest.raises(SyncError, match="fc.weight"):
        sync_by_name(A(3), A(4))


def test_a_generator_step_leaves_the_frozen_discriminator_unchanged(nets):
    d_before = values(nets.gen_training.dis)
    g_before = values(nets.gen_training.gen)
    one_step(GanStep(nets, Objective(V1(LossSettings())), RandomStream(0)), GEN, seed=0)
    for name, value in values(nets.gen_training.dis).items():  # weights and running stats
        assert np.array_equal(d_before[name], value), name
    assert any(not np.array_equal(g_before[n], v) for n, v in values(nets.gen_training.gen).items())
    assert not any(p.stop_gradient is False for p in nets.gen_training.dis.parameters())


def test_sync_after_follows_v1(nets):
    step = GanStep(nets, Objective(V1(LossSettings())), RandomStream(0))
    for seed, trained in enumerate((DIS, GEN)):
        one_step(step, trained, seed)
        nets.sync_after(trained)
        gen_training = values(nets.gen_training)
        for other in (nets.dis_training, nets.generator):
            for name, value in values(other).items():
                assert np.array_equal(gen_training[name], value), name


def running_statistics_conf():
    """A conf whose G has a batch norm of Paddle's default kind: running statistics that move in
    training and that the inference generator reads."""
    conf = types.ModuleType("bn_conf")
    conf.NOISE_DIM = 10
    conf.build_generator = lambda shape: nn.Sequential(
        nn.Linear(10, 8), nn.BatchNorm1D(8), nn.ReLU(), nn.Linear(8, shape[0]))
    conf.build_discriminator = lambda shape, logits=2: nn.Sequential(
        nn.Linear(shape[0], 8), nn.ReLU(), nn.Linear(8, logits))
    return conf


def test_a_generator_step_syncs_the_running_statistics_the_generator_reads():
    paddle.seed(0)
    nets = build_networks(running_statistics_conf(), (2,), Settings())
    step = GanStep(nets, Objective(V1(LossSettings())), RandomStream(0))
    one_step(step, GEN, seed=1)
    nets.sync_after(GEN)
    trained = values(nets.gen_training)
    assert not np.array_equal(trained["gen.1._mean"], np.zeros(8))  # they moved
    for name, value in values(nets.generator).items():
        assert np.array_equal(trained[name], value), name


def test_conf_module_interface():
    conf = load_conf_module(REPO / "conf/gan_conf.py")
    assert isinstance(conf, types.ModuleType) and conf.NOISE_DIM == 10
    gen = conf.build_generator((2,))
    assert list(gen(paddle.randn([4, 10])).shape) == [4, 2]
    # v1: biases start at 1.0
    assert np.all(gen.hidden.bias.numpy() == 1.0)


# --- packing (PacGAN) and the generator's moving average ------------------------------------


def recording_conf(seen):
    """A conf whose D records every batch it is given (what it judges)."""
    conf = running_statistics_conf()

    class Recorder(nn.Layer):
        def __init__(self, shape, logits):
            super().__init__()
            self.fc = nn.Linear(shape[0], logits)

        def forward(self, x):
            seen.append(x.numpy().copy())
            return self.fc(x)

    conf.build_discriminator = lambda shape, logits=2: Recorder(shape, logits)
    return conf


@pytest.mark.parametrize("packing", [1, 2, 4])
def test_a_packed_discriminator_sees_m_samples_of_one_batch_per_judgement(packing):
    seen = []
    paddle.seed(0)
    nets = build_networks(recording_conf(seen), (2,), Settings(packing=packing))
    real = np.arange(16 * 2, dtype=np.float32).reshape(16, 2)
    out = nets.dis_training(paddle.to_tensor(real))
    assert list(out.shape) == [16 // packing, 2]  # one verdict a pack
    judged = seen[-1]
    assert judged.shape == (16 // packing, 2 * packing)
    for pack, row in enumerate(judged):  # pack i: samples i*m .. i*m+m-1, side by side
        assert np.array_equal(row, real[pack * packing:(pack + 1) * packing].reshape(-1))
    noise = paddle.randn([16, 10])
    nets.gen_training(noise)  # G's samples are packed the same way, fake with fake
    fake = nets.gen_training.gen(noise).numpy()
    assert np.array_equal(seen[-1], fake.reshape(16 // packing, 2 * packing))


def test_images_are_packed_along_channels():
    from paddle_gan.networks import pack

    images = paddle.to_tensor(np.random.default_rng(0).random((6, 3, 4, 4), dtype=np.float32))
    packed = pack(images, 3).numpy()
    assert packed.shape == (2, 9, 4, 4)
    assert np.array_equal(packed[1, 3:6], images.numpy()[4])  # pack 1's second image


def trainable(layer):
    """What an update moves (not the batch norms' statistics, which v1's rule keeps)."""
    return [param for param in layer.parameters() if not param.stop_gradient]


def set_values(layer, value):
    with paddle.no_grad():
        for param in trainable(layer):
            param.set_value(paddle.full(param.shape, value, param.dtype))


EMA_RTOL, EMA_ATOL = 2.4e-7, 1e-8  # two float32 units in the last place


@pytest.mark.parametrize("start", [0, 2])
def test_the_generator_holds_the_moving_average_of_g(start):
    decay = 0.9
    paddle.seed(0)
    nets = build_networks(load_conf_module(REPO / "conf/gan_conf.py"), (2,),
                          Settings(ema=EmaSettings(decay, start)))
    rng = np.random.default_rng(0)
    expected = values(nets.generator)  # synced at the start: a copy of G
    for iteration in range(1, 6):
        with paddle.no_grad():  # as if an update had moved every weight of G
            for param in trainable(nets.gen_training.gen):
                param.set_value(rng.standard_normal(param.shape).astype(np.float32))
        nets.sync_after(GEN, iteration)
        trained = values(nets.gen_training)
        for name in expected:
            if iteration <= start:  # before `start`: v1's copy
                expected[name] = trained[name]
            else:  # ema + (1 - decay) * (G - ema), in float32
                weight = np.float32(1 - decay)
                expected[name] = expected[name] + weight * (trained[name] - expected[name])
        got = values(nets.generator)
        for name, value in expected.items():  # to float32 rounding (a kernel may fuse the FMA)
            np.testing.assert_allclose(got[name], value, rtol=EMA_RTOL, atol=EMA_ATOL,
                                       err_msg=name)
    before = values(nets.generator)
    nets.sync_after(DIS, 6)  # a D step leaves the average alone
    for name, value in values(nets.generator).items():
        assert np.array_equal(value, before[name]), name


def test_without_ema_the_generator_is_g_bit_for_bit(nets):
    set_values(nets.gen_training.gen, 0.25)
    nets.sync_after(GEN, 10)
    trained = values(nets.gen_training)
    for name, value in values(nets.generator).items():
        assert np.array_equal(trained[name], value), name
