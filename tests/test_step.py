"""The fast step computes what the plain (literal v1) step computes.

Stated tolerances. The step logic alone (reused forwards, G's gradient taken at the fake batch)
reorders no arithmetic: with Paddle's convolutions it is bit-identical to the plain step here,
and the uniform run and the DCGAN run without fast convolutions are held to RTOL/ATOL. The fast
convolutions sum in another order, so they differ by float32 rounding (~1e-6 relative), and
Adam turns that into lr-sized parameter differences: its first steps are about lr * sign(grad),
and a near-zero gradient (a bias before batch norm has none at all) flips sign on rounding. So
the DCGAN run with fast convolutions is compared under SGD, where a parameter difference is
proportional to a gradient difference, to FAST_CONV_RTOL/ATOL.
"""
from pathlib import Path

import numpy as np
import paddle
import pytest

import paddle_gan.step
from paddle_gan.config import resolve_settings
from paddle_gan.errors import Diverged
from paddle_gan.roles import DIS, GEN
from paddle_gan.run import build_state
from paddle_gan.step import FastStep, GanStep, check_finite
from tests.helpers import REPO_ROOT, step_once, tensors, tiny_state

RTOL, ATOL = 1e-5, 1e-6
FAST_CONV_RTOL, FAST_CONV_ATOL = 1e-4, 1e-6
SGD_LR = 1e-3


def use_sgd(nets):
    """Both optimisers as SGD over the same parameters (see the module docstring)."""
    nets.opt_g = paddle.optimizer.SGD(SGD_LR, parameters=nets.opt_g._parameter_list)
    nets.opt_d = paddle.optimizer.SGD(SGD_LR, parameters=nets.opt_d._parameter_list)


def run_iterations(execution, data, sets, iters, tmp_path, sgd=False):
    settings = resolve_settings(
        None, [f"execution={execution}", *sets],
        {"num_passes": 1, "iters_per_pass": iters, "plugins": []}, data)
    state = build_state(settings, Path(tmp_path) / execution)
    if sgd:
        use_sgd(state.nets)
    history = []
    for _ in range(iters):
        step_once(state)
        history.append(state.result)
    return state, history, tensors(state)


def assert_same_run(data, sets, iters, tmp_path, rtol=RTOL, atol=ATOL, sgd=False):
    plain_state, plain, plain_params = run_iterations("plain", data, sets, iters, tmp_path, sgd)
    fast_state, fast, fast_params = run_iterations("fast", data, sets, iters, tmp_path, sgd)
    assert type(plain_state.step) is GanStep and type(fast_state.step) is FastStep
    assert [r.decision for r in plain] == [r.decision for r in fast]
    assert {r.decision for r in plain} == {DIS, GEN}  # both update paths were compared
    for a, b in zip(plain, fast):
        assert b.losses.keys() == a.losses.keys() >= {"d", "g"}
        for key in a.losses:
            assert b.losses[key] == pytest.approx(a.losses[key], rel=rtol, abs=atol), key
    for name, value in plain_params.items():
        np.testing.assert_allclose(fast_params[name], value, rtol=rtol, atol=atol, err_msg=name)


def test_fast_equals_plain_uniform(tmp_path):
    assert_same_run("uniform", ["data_size=4096", "batch_size=32"], 40, tmp_path)


# every loss, with the schedules it can have (loss_based needs comparable D and G losses)
LOSS_SCHEDULES = [("v1", "loss_based"), ("minimax", "loss_based"), ("lsgan", "alternate"),
                  ("non_saturating", "alternate"), ("hinge", "alternate"),
                  ("wgan_gp", "alternate")]


@pytest.mark.parametrize("loss, scheduler", LOSS_SCHEDULES)
def test_packing_and_the_moving_average_fast_equals_plain(tmp_path, loss, scheduler):
    """Every loss and schedule with PacGAN's packing (D judges pairs) and an averaged
    generator, on both execution paths."""
    assert_same_run("uniform", ["data_size=4096", "batch_size=32", "packing=2", "ema.decay=0.9",
                                f"loss.name={loss}", f"scheduler.name={scheduler}"],
                    12, tmp_path)


@pytest.fixture
def tiny_mnist(tmp_path):
    images = tmp_path / "mnist"
    images.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    (images / "train-images-idx3-ubyte").write_bytes(
        np.array([2051, 64, 28, 28], ">i4").tobytes() + pixels.tobytes())
    (images / "train-labels-idx1-ubyte").write_bytes(
        np.array([2049, 64], ">i4").tobytes() + (np.arange(64) % 10).astype(np.uint8).tobytes())
    return [f"data_dir={images}", "batch_size=8"]


@pytest.mark.skipif(not (REPO_ROOT / "conf/gan_conf_image.py").exists(), reason="no image conf")
def test_fast_step_equals_plain_dcgan(tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.setattr(paddle_gan.step, "use_fast_convolutions", lambda network: 0)
    assert_same_run("mnist", tiny_mnist, 8, tmp_path)


@pytest.mark.skipif(not (REPO_ROOT / "conf/gan_conf_image.py").exists(), reason="no image conf")
def test_fast_step_with_fast_convolutions_equals_plain_dcgan(tiny_mnist, tmp_path):
    assert_same_run("mnist", tiny_mnist, 8, tmp_path, FAST_CONV_RTOL, FAST_CONV_ATOL, sgd=True)


def test_check_finite_names_the_loss():
    check_finite({"d": 0.5})
    with pytest.raises(Diverged, match="'g' is nan"):
        check_finite({"d": 0.5, "g": float("nan")})


def test_fast_path_needs_v1_batch_statistics(tmp_path):
    import paddle.nn as nn

    from paddle_gan.config import LossSettings, Settings
    from paddle_gan.losses import V1, Objective
    from paddle_gan.networks import build_networks
    from paddle_gan.noise import RandomStream
    from paddle_gan.step import build_fast_step

    class RunningStatsConf:  # a conf module whose batch norm reads running averages
        NOISE_DIM = 3

        @staticmethod
        def build_generator(shape):
            return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1D(4), nn.Linear(4, shape[0]))

        @staticmethod
        def build_discriminator(shape, logits):
            return nn.Sequential(nn.Linear(shape[0], 4), nn.BatchNorm1D(4), nn.Linear(4, logits))

    nets = build_networks(RunningStatsConf, (2,), Settings())
    assert type(build_fast_step(nets, Objective(V1(LossSettings())), RandomStream(0))) is GanStep


class AskedAfter:
    """`alternate` asked the losses-first way: after the forwards, through `choose`."""

    def __init__(self, inner):
        self.inner = inner

    @property
    def strike(self):
        return self.inner.strike

    def choose(self, d_loss, g_loss):
        return self.inner.choose(d_loss, g_loss)


def alternate_run(tmp_path, execution, loss, ask_after, iters=8):
    state = tiny_state(tmp_path / f"{execution}-{loss}-{ask_after}", iters=iters, sets=[
        f"execution={execution}", f"loss.name={loss}", "scheduler.name=alternate"])
    if ask_after:
        state.scheduler = AskedAfter(state.scheduler)
    d_forwards = []  # one entry per forward of discriminator_training in the iteration
    state.nets.dis_training.register_forward_pre_hook(lambda layer, inputs: d_forwards.append(1))
    results, d_calls = [], []
    for _ in range(iters):
        d_forwards.clear()
        step_once(state)
        results.append(state.result)
        d_calls.append(len(d_forwards))
    return results, d_calls, tensors(state)


@pytest.mark.parametrize("execution", ["fast", "plain"])
@pytest.mark.parametrize("loss", ["v1", "non_saturating", "wgan_gp"])
def test_a_step_picked_ahead_trains_as_one_picked_after_the_losses(tmp_path, execution, loss):
    ahead, ahead_calls, ahead_params = alternate_run(tmp_path, execution, loss, False)
    after, after_calls, after_params = alternate_run(tmp_path, execution, loss, True)
    assert [r.decision for r in ahead] == [r.decision for r in after] == [DIS, GEN] * 4
    for name, value in after_params.items():  # bit for bit
        assert np.array_equal(ahead_params[name], value), name
    for i in range(1, len(ahead), 2):  # G steps: g fresh, D's terms from the D step before
        assert ahead[i].losses == {**after[i - 1].losses, "g": ahead[i].losses["g"]}
        # the same value, from other code: a G step planned ahead computes g alone, asked
        # after it comes with D's terms, and the kernels may round the two differently (MKL's
        # AVX-512 ones do, by 3e-8 of 0.42)
        assert ahead[i].losses["g"] == pytest.approx(after[i].losses["g"], rel=RTOL)
        assert ahead[i].losses["g"] != ahead[i - 1].losses["g"]
        assert ahead_calls[i] < after_calls[i]  # D's forwards the G step no longer needs
    assert ahead[0].losses == after[0].losses


def test_a_step_refuses_to_train_another_network_than_planned(tmp_path):
    state = tiny_state(tmp_path)
    state.start_pass()
    real, noise = state.step.to_device(state.sampler.next_batch(state.dataset.samples)[0],
                                       state.noise.next())[:2]
    forward = state.step.forward(real, noise, planned=GEN)
    with pytest.raises(ValueError, match="for a gen step, not a dis step"):
        state.step.train(forward, DIS)
