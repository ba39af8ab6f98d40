"""What paddle_gan.compat does, on whichever Paddle runs the tests (2.6 or 3.x): Adam's state out
and back by structural names, bit for bit; Paddle's generator state through JSON (3.x) or carried
while unused (2.6); batch-statistics batch norms exported and reloaded in either program format."""
import json
from pathlib import Path

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_gan.compat import (
    BatchStatisticsNorm,
    exportable,
    optimizer_state,
    paddle_rng_state,
    program_suffix,
    set_optimizer_state,
    set_paddle_rng_state,
)

ACCUMULATORS = ("moment1", "moment2", "beta1_pow_acc", "beta2_pow_acc")
# 3.x's generator state holds its engine; 2.6's does not, so 2.6 cannot save it to a file.
ENGINE_IN_STATE = len(paddle.get_rng_state()[0].__getstate__()) == 4
FIXTURE = Path(__file__).parent / "checkpoint/fixtures/main-83a92d8/step-00000008-pass-0000"
SAVED_BY_3X = json.loads((FIXTURE / "meta.json").read_text())["rng"]["paddle"]


# --- Adam's state ------------------------------------------------------------------------------

def adam_net(seed=0):
    paddle.seed(seed)
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    return net, paddle.optimizer.Adam(1e-2, beta1=0.5, parameters=net.parameters())


def structural(net):
    return {f"net/{name}": param for name, param in net.named_parameters()}


def train(net, optimizer, steps, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = paddle.to_tensor(rng.standard_normal((5, 3), dtype=np.float32))
        net(x).square().mean().backward()
        optimizer.step()
        optimizer.clear_grad()


def as_bytes(arrays):
    return {k: np.asarray(v).tobytes() for k, v in arrays.items()}


def test_optimizer_state_is_keyed_by_structural_names():
    net, opt = adam_net()
    assert optimizer_state(opt, structural(net)) == {}  # Adam has no state before an update
    train(net, opt, 2)
    state = optimizer_state(opt, structural(net))
    assert set(state) == {f"{acc}/net/{name}" for acc in ACCUMULATORS
                          for name in ("0.weight", "0.bias", "1.weight", "1.bias")}
    assert state["moment1/net/0.weight"].shape == (3, 4)
    assert state["beta1_pow_acc/net/1.bias"].tolist() == [0.5 ** 3]  # beta1 after two updates


def test_the_state_set_into_a_fresh_optimizer_is_exact_and_continues_identically():
    net_a, opt_a = adam_net(0)
    train(net_a, opt_a, 3)
    saved = optimizer_state(opt_a, structural(net_a))
    net_b, opt_b = adam_net(7)  # other values, other per-process parameter names
    for name, param in structural(net_b).items():
        param.set_value(structural(net_a)[name].numpy())
    set_optimizer_state(opt_b, structural(net_b), saved)
    assert as_bytes(optimizer_state(opt_b, structural(net_b))) == as_bytes(saved)
    # The update that made Adam's state moved no parameter and left no gradient behind.
    params_a = {k: p.numpy() for k, p in structural(net_a).items()}
    assert as_bytes({k: p.numpy() for k, p in structural(net_b).items()}) == as_bytes(params_a)
    assert all(p.grad is None for p in net_b.parameters())
    train(net_a, opt_a, 3, seed=2)
    train(net_b, opt_b, 3, seed=2)
    for name, param in structural(net_a).items():
        assert param.numpy().tobytes() == structural(net_b)[name].numpy().tobytes(), name


def test_an_empty_state_leaves_a_fresh_optimizer_fresh_and_a_used_one_is_overwritten():
    net, opt = adam_net()
    set_optimizer_state(opt, structural(net), {})
    assert optimizer_state(opt, structural(net)) == {}
    train(net, opt, 2)
    zeros = {k: np.zeros_like(v) for k, v in optimizer_state(opt, structural(net)).items()}
    set_optimizer_state(opt, structural(net), zeros)
    assert all(not v.any() for v in optimizer_state(opt, structural(net)).values())


def test_state_of_other_parameters_or_an_incomplete_one_is_refused():
    net, opt = adam_net()
    train(net, opt, 1)
    saved = optimizer_state(opt, structural(net))
    fresh_net, fresh_opt = adam_net()
    with pytest.raises(ValueError, match="unknown parameters"):
        set_optimizer_state(fresh_opt, {"other/0.weight": fresh_net[0].weight}, saved)
    with pytest.raises(ValueError, match="does not match"):
        set_optimizer_state(fresh_opt, structural(fresh_net),
                            {k: v for k, v in saved.items() if "moment2" not in k})


def test_optimizer_state_that_is_not_per_parameter_is_refused():
    net = nn.Linear(2, 2)
    opt = paddle.optimizer.Adam(paddle.optimizer.lr.StepDecay(0.1, 2), parameters=net.parameters())
    with pytest.raises(ValueError, match="LR_Scheduler"):
        optimizer_state(opt, {"net/weight": net.weight, "net/bias": net.bias})


# --- Paddle's random generator -----------------------------------------------------------------

def test_a_fresh_generator_state_is_json_on_3x_and_unknown_on_26():
    paddle.seed(3)
    state = paddle_rng_state()
    if ENGINE_IN_STATE:
        assert json.loads(json.dumps(state)) == state and state[0][1] == 3
    else:
        assert state is None


def test_a_saved_state_is_set_on_3x_and_carried_while_unused_on_26():
    why_not = set_paddle_rng_state(SAVED_BY_3X)
    assert (why_not is None) == ENGINE_IN_STATE
    assert paddle_rng_state() == SAVED_BY_3X  # read back (3.x), or carried (2.6)
    first = paddle.rand([4]).numpy()
    if ENGINE_IN_STATE:
        assert paddle_rng_state() != SAVED_BY_3X
        assert set_paddle_rng_state(SAVED_BY_3X) is None
        assert paddle.rand([4]).numpy().tobytes() == first.tobytes()
    else:
        assert "2.6" in why_not
        assert paddle_rng_state() is None  # it drew since: 2.6 knows no state to write


def test_no_state_or_another_devices_state_is_not_set():
    paddle.seed(5)
    assert "2.6" in set_paddle_rng_state(None)
    assert set_paddle_rng_state(SAVED_BY_3X * 2)  # two devices' states, one device here
    assert paddle_rng_state() != SAVED_BY_3X


# --- export of batch-statistics batch norms ----------------------------------------------------

@pytest.mark.parametrize("make, shape", [
    (lambda: nn.BatchNorm1D(3, use_global_stats=False), (8, 3)),
    (lambda: nn.BatchNorm1D(3, use_global_stats=False), (8, 3, 5)),
    (lambda: nn.BatchNorm1D(3, use_global_stats=False, data_format="NLC"), (8, 5, 3)),
    (lambda: nn.BatchNorm2D(3, use_global_stats=False), (4, 3, 5, 6)),
    (lambda: nn.BatchNorm2D(3, use_global_stats=False, data_format="NHWC"), (4, 5, 6, 3)),
], ids=["NC", "NCL", "NLC", "NCHW", "NHWC"])
def test_batch_statistics_norm_normalises_as_the_batch_norm_it_replaces(make, shape):
    paddle.seed(0)
    bn = make()
    bn.weight.set_value(np.random.default_rng(1).normal(1, 0.3, 3).astype(np.float32))
    bn.bias.set_value(np.random.default_rng(2).normal(0, 0.3, 3).astype(np.float32))
    bn.eval()  # v1's rule: the batch's own statistics even in inference
    x = paddle.to_tensor(np.random.default_rng(3).normal(2, 3, shape).astype(np.float32))
    with paddle.no_grad():
        np.testing.assert_allclose(BatchStatisticsNorm(bn)(x).numpy(), bn(x).numpy(),
                                   rtol=0, atol=1e-5)


class Generator(nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.bn = nn.BatchNorm1D(6, use_global_stats=False)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        return self.out(nn.functional.relu(self.bn(self.fc(x))))


def test_a_batch_statistics_generator_exports_and_reloads_in_this_paddles_format(tmp_path):
    paddle.seed(0)
    gen = Generator()
    gen.eval()
    noise = paddle.to_tensor(np.random.default_rng(0).standard_normal((16, 4), np.float32))
    with paddle.no_grad():
        expected = gen(noise).numpy()
    spec = paddle.static.InputSpec([None, 4], "float32", name="noise")
    with exportable(gen) as layer:
        swapped = isinstance(layer.bn, BatchStatisticsNorm)
        paddle.jit.save(layer, str(tmp_path / "gen"), input_spec=[spec])
    assert swapped == (program_suffix() == ".pdmodel")  # the legacy format only
    assert isinstance(gen.bn, nn.BatchNorm1D)  # put back after the save
    assert (tmp_path / ("gen" + program_suffix())).is_file()
    model = paddle.jit.load(str(tmp_path / "gen"))
    model.eval()
    with paddle.no_grad():
        np.testing.assert_allclose(model(noise).numpy(), expected, rtol=0, atol=1e-5)
