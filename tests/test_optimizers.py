"""Per-network optimisers: `optimizer` for both, `optimizer_d` / `optimizer_g` overriding what
differs; each built from its settings; a resume is bit for bit for every loss and optimiser;
spectral normalisation's extra state syncs by name, checkpoints and resumes exactly."""
import numpy as np
import paddle
import pytest

from paddle_gan.checkpoint.files import list_checkpoints, load_checkpoint
from paddle_gan.cli.train import main
from paddle_gan.config import OptimizerSettings, resolve_settings
from paddle_gan.networks import copy_pairs, shared_pairs
from paddle_gan.optimizers import learning_rate
from tests.helpers import step_once, tensors, tiny_state


def test_a_network_override_keeps_the_shared_values_it_does_not_name():
    settings = resolve_settings(None, ["optimizer.learning_rate=0.002",
                                       "optimizer_d.name=rmsprop", "optimizer_d.rho=0.8"],
                                {}, "uniform")
    dis, gen = settings.optimizer_of("dis"), settings.optimizer_of("gen")
    assert (dis.name, dis.learning_rate, dis.rho) == ("rmsprop", 0.002, 0.8)
    assert gen is settings.optimizer and gen.name == "adam"


@pytest.mark.parametrize("name, cls", [("adam", paddle.optimizer.Adam),
                                       ("rmsprop", paddle.optimizer.RMSProp),
                                       ("sgd", paddle.optimizer.SGD)])
def test_each_optimiser_is_built_from_its_settings(tmp_path, name, cls):
    state = tiny_state(tmp_path, sets=[f"optimizer_g.name={name}", "optimizer.learning_rate=0.01"])
    assert isinstance(state.nets.opt_g, cls) and isinstance(state.nets.opt_d,
                                                            paddle.optimizer.Adam)
    assert state.nets.opt_g.get_lr() == pytest.approx(0.01)
    momentum = tiny_state(tmp_path / "m", sets=["optimizer.name=sgd", "optimizer.momentum=0.9"])
    assert isinstance(momentum.nets.opt_d, paddle.optimizer.Momentum)


CASES = [
    ["loss.name=v1"],
    ["loss.name=minimax", "loss.real_label=0.9"],
    ["loss.name=non_saturating", "loss.r1_gamma=2"],
    ["loss.name=lsgan"],
    ["loss.name=hinge", "scheduler.name=alternate"],
    ["loss.name=wgan_gp", "scheduler.name=alternate", "scheduler.d_steps=3",
     "optimizer.name=rmsprop", "optimizer.learning_rate=5e-5"],
    ["optimizer.name=sgd", "optimizer.momentum=0.5"],
    ["optimizer_d.name=rmsprop", "optimizer_d.momentum=0.3", "noise=uniform"],
]


def stopped_and_one_go(tmp_path, sets, iters: int) -> tuple:
    """The final checkpoints (tensors, meta) of a 3-pass uniform run trained in one go and of
    the same run stopped after pass 1 and resumed."""
    def cli(out, *extra):
        argv = ["-d", "uniform", "--iters_per_pass", str(iters), "--batch_size", "16",
                "--output_dir", str(out), "--set", "data_size=512", "--set",
                "plugins=[checkpoint]"]
        for item in sets:
            argv += ["--set", item]
        return main(argv + list(extra))

    assert cli(tmp_path / "one_go", "--num_passes", "3") == 0
    assert cli(tmp_path / "stopped", "--num_passes", "1") == 0
    assert cli(tmp_path / "stopped", "--num_passes", "3", "--resume", "auto") == 0
    return tuple(load_checkpoint(list_checkpoints(tmp_path / run / "checkpoints")[-1])
                 for run in ("one_go", "stopped"))


@pytest.mark.parametrize("sets", CASES, ids=[" ".join(c) for c in CASES])
def test_a_resume_is_bit_for_bit_for_every_loss_and_optimiser(tmp_path, sets):
    (a, meta_a), (b, meta_b) = stopped_and_one_go(tmp_path, sets, iters=7)
    assert a.keys() == b.keys() and any(k.startswith("opt/") for k in a)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert meta_a["rng"] == meta_b["rng"] and meta_a["counters"] == meta_b["counters"]


SPECTRAL_CONF = '''
import paddle.nn as nn

NOISE_DIM = 4


def build_generator(shape):
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, shape[0]))


def build_discriminator(shape, logits=1):
    return nn.Sequential(nn.utils.spectral_norm(nn.Linear(shape[0], 8)), nn.LeakyReLU(0.2),
                         nn.utils.spectral_norm(nn.Linear(8, logits)))
'''


def test_spectral_norm_state_syncs_checkpoints_and_resumes_exactly(tmp_path):
    conf = tmp_path / "sn_conf.py"
    conf.write_text(SPECTRAL_CONF)
    sets = [f"conf={conf}", "loss.name=hinge", "scheduler.name=alternate"]
    state = tiny_state(tmp_path / "a", passes=2, iters=5, sets=sets)
    names = set(state.nets.dis_training.state_dict())
    assert {"dis.0.weight_orig", "dis.0.weight_u", "dis.0.weight_v"} <= names
    for _ in range(3):
        step_once(state)
    # after a D step, the power iteration's vectors moved, and reached generator_training too
    d = state.nets.dis_training.state_dict()
    g = state.nets.gen_training.state_dict()
    for name in ("dis.0.weight_u", "dis.0.weight_v", "dis.0.weight_orig"):
        np.testing.assert_array_equal(d[name].numpy(), g[name].numpy())
    assert copy_pairs(shared_pairs(state.nets.dis_training, state.nets.gen_training)) is None

    (a, _), (b, _) = stopped_and_one_go(tmp_path, sets, iters=5)
    assert "net/dis_training/dis.0.weight_u" in a
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["net/dis_training/dis.0.weight_u"],
                              tensors(tiny_state(tmp_path / "fresh", sets=sets))[
                                  "dis_training/dis.0.weight_u"])


def test_a_decaying_learning_rate_starts_late_and_ends_at_zero():
    linear = OptimizerSettings(learning_rate=0.01, decay="linear", decay_start=0.5)
    assert [learning_rate(linear, p) for p in (0.0, 0.5, 0.75, 1.0)] == pytest.approx(
        [0.01, 0.01, 0.005, 0.0])
    cosine = OptimizerSettings(learning_rate=0.01, decay="cosine")
    assert [learning_rate(cosine, p) for p in (0.0, 0.5, 1.0)] == pytest.approx(
        [0.01, 0.005, 0.0])
    assert learning_rate(OptimizerSettings(learning_rate=0.01), 0.9) == 0.01


def test_each_update_uses_its_networks_rate_at_that_point_of_the_run(tmp_path):
    state = tiny_state(tmp_path, passes=2, iters=5, sets=[
        "optimizer.decay=linear", "optimizer.decay_start=0.2", "optimizer_g.decay=cosine"])
    used = []
    for network, optimizer in (("dis", state.nets.opt_d), ("gen", state.nets.opt_g)):
        step = optimizer.step
        optimizer.step = lambda step=step, network=network, optimizer=optimizer: (
            used.append((network, state.global_step, optimizer.get_lr())), step())[1]
    for _ in range(10):
        step_once(state)
    assert {network for network, _, _ in used} == {"dis", "gen"}
    for network, step, rate in used:  # the iteration's share of the run before it
        expected = learning_rate(state.settings.optimizer_of(network), step / 10)
        assert rate == pytest.approx(expected, rel=1e-6), (network, step)
    assert used[-1][2] < state.settings.optimizer.learning_rate / 4  # on its way to 0


def test_a_decaying_run_resumes_bit_for_bit_and_a_longer_one_is_a_change(tmp_path, capsys):
    def cli(out, *extra):
        return main(["-d", "uniform", "--num_passes", "2", "--iters_per_pass", "6",
                     "--batch_size", "16", "--set", "data_size=512", "--output_dir", str(out),
                     "--set", "optimizer.decay=cosine",
                     "--set", "plugins=[checkpoint, resume_probe]", *extra])

    assert cli(tmp_path / "one_go") == 0
    assert cli(tmp_path / "stopped", "--set", "plugin_options.resume_probe.kill_at=8") == 143
    assert cli(tmp_path / "stopped", "--resume", "auto") == 0
    (a, _), (b, _) = (load_checkpoint(list_checkpoints(tmp_path / run / "checkpoints")[-1])
                      for run in ("one_go", "stopped"))
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    capsys.readouterr()
    assert cli(tmp_path / "one_go", "--num_passes", "3", "--resume", "auto") == 0
    assert "changed settings: num_passes 2 -> 3" in capsys.readouterr().out  # spreads the decay


@pytest.mark.parametrize("gradient", [1.0, 1e-6, 1e-10])
def test_the_one_kernel_adam_is_adam(gradient):
    """optimizers.adam updates every parameter in one kernel (use_multi_tensor): the same update
    as Paddle's kernel per parameter, to a unit in the last place, for any gradient size (a
    formula that moved epsilon would differ by the learning rate on the smallest ones)."""
    def run(multi):
        paddle.seed(0)
        net = paddle.nn.Sequential(paddle.nn.Linear(8, 16), paddle.nn.ReLU(),
                                   paddle.nn.Linear(16, 4))
        optimizer = paddle.optimizer.Adam(1e-3, beta1=0.5, parameters=net.parameters(),
                                          use_multi_tensor=multi)
        rng = np.random.default_rng(0)
        for _ in range(5):
            x = paddle.to_tensor(rng.standard_normal((32, 8)).astype("float32"))
            (net(x).square().mean() * gradient).backward()
            optimizer.step()
            optimizer.clear_grad()
        return [p.numpy() for p in net.parameters()]

    for one, each in zip(run(True), run(False)):
        np.testing.assert_allclose(one, each, rtol=2.4e-7, atol=1e-9)
    settings = resolve_settings(None, [], {}, "uniform").optimizer
    from paddle_gan.optimizers import adam

    assert adam(settings, paddle.nn.Linear(2, 2).parameters())._use_multi_tensor
