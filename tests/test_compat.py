"""What paddle_gan.compat does, on whichever Paddle runs the tests (2.6 or 3.x): Adam's state out
and back by structural names, bit for bit; Paddle's generator state through JSON (3.x) or carried
while unused (2.6)."""
import json
from pathlib import Path

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_gan.compat import (
    optimizer_state,
    paddle_rng_state,
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
