"""The fast convolutions compute Paddle's Conv2D / Conv2DTranspose: outputs and all gradients
agree to float32 rounding (stated: rtol 1e-5, atol 1e-5 of the largest value), lowered or not."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_gan.fast_conv import FastConv2D, FastConv2DTranspose, use_fast_convolutions

RTOL, ATOL = 1e-5, 1e-5


def outputs_and_gradients(layer, x):
    x = paddle.to_tensor(x, stop_gradient=False)
    out = layer(x)
    # A weighted sum, so every output position gets its own gradient.
    weights = paddle.to_tensor(np.random.default_rng(1).standard_normal(out.shape, "float32"))
    (out * weights).sum().backward()
    results = {"out": out, "x.grad": x.grad}
    for name, param in layer.named_parameters():
        results[f"{name}.grad"] = param.grad
    return {name: value.numpy() for name, value in results.items()}


def assert_same_as_paddle(make_layer, input_shape):
    paddle.seed(0)
    reference = make_layer()
    fast = make_layer()
    fast.set_state_dict(reference.state_dict())
    assert use_fast_convolutions(fast) == 1
    x = np.random.default_rng(0).standard_normal(input_shape).astype("float32")
    expected, actual = outputs_and_gradients(reference, x), outputs_and_gradients(fast, x)
    assert expected.keys() == actual.keys()
    for name, value in expected.items():
        scale = float(np.abs(value).max())
        np.testing.assert_allclose(actual[name], value, rtol=RTOL, atol=ATOL * scale,
                                   err_msg=name)


@pytest.mark.parametrize("make_layer, input_shape", [
    # the MNIST D's layers: one input channel (thin C*k*k), a 7x7 map (not thin), a 3x3 map
    (lambda: nn.Conv2D(1, 8, 4, 2, 1), [4, 1, 28, 28]),
    (lambda: nn.Conv2D(16, 8, 4, 2, 1), [4, 16, 14, 14]),
    (lambda: nn.Conv2D(16, 32, 5, 2, 1), [4, 16, 7, 7]),
    (lambda: nn.Conv2D(3, 8, 4, 2, 1, bias_attr=False), [4, 3, 32, 32]),
    # not lowered at all: Paddle's kernel
    (lambda: nn.Conv2D(4, 8, 3, 1, "same", groups=2), [2, 4, 6, 6]),
    (lambda: nn.Conv2D(4, 8, 3, 1, 2, dilation=2), [2, 4, 6, 6]),
], ids=["one-channel", "7x7-bias-only", "3x3-map", "no-bias", "groups", "dilation"])
def test_conv2d_matches_paddle(make_layer, input_shape):
    assert_same_as_paddle(make_layer, input_shape)


@pytest.mark.parametrize("make_layer, input_shape", [
    # the MNIST G's layers: from a 3x3 map (thin), 7x7 -> 14x14 (not thin), to one channel
    (lambda: nn.Conv2DTranspose(32, 16, 5, 2, 1), [4, 32, 3, 3]),
    (lambda: nn.Conv2DTranspose(16, 8, 4, 2, 1), [4, 16, 7, 7]),
    (lambda: nn.Conv2DTranspose(8, 1, 4, 2, 1), [4, 8, 14, 14]),
    (lambda: nn.Conv2DTranspose(8, 3, 4, 2, 1, bias_attr=False), [4, 8, 4, 4]),
    (lambda: nn.Conv2DTranspose(4, 4, 3, 2, 1, output_padding=1), [2, 4, 3, 3]),
], ids=["3x3-map", "7x7-bias-only", "one-channel", "no-bias", "output-padding"])
def test_conv2d_transpose_matches_paddle(make_layer, input_shape):
    assert_same_as_paddle(make_layer, input_shape)


def test_switching_keeps_parameters_names_and_types():
    net = nn.Sequential(nn.Conv2D(1, 4, 4, 2, 1), nn.ReLU(), nn.Conv2DTranspose(4, 1, 4, 2, 1))
    before = {name: id(param) for name, param in net.named_parameters()}
    assert use_fast_convolutions(net) == 2
    assert {name: id(param) for name, param in net.named_parameters()} == before
    assert type(net[0]) is FastConv2D and type(net[2]) is FastConv2DTranspose
    assert isinstance(net[0], nn.Conv2D)
    assert use_fast_convolutions(net) == 0  # already switched


@pytest.mark.parametrize("layer, input_shape, lowered", [
    (nn.Conv2D(1, 8, 4, 2, 1), [2, 1, 28, 28], True),  # C*k*k = 16
    (nn.Conv2D(16, 32, 5, 2, 1), [2, 16, 7, 7], True),  # 3x3 output map
    (nn.Conv2D(16, 8, 4, 2, 1), [2, 16, 14, 14], False),  # 7x7 map, C*k*k = 256
    (nn.Conv2DTranspose(32, 16, 5, 2, 1), [2, 32, 3, 3], True),  # 3x3 input map
    (nn.Conv2DTranspose(8, 1, 4, 2, 1), [2, 8, 14, 14], True),  # out*k*k = 16
    (nn.Conv2DTranspose(16, 8, 4, 2, 1), [2, 16, 7, 7], False),  # 7x7 map, out*k*k = 128
])
def test_only_thin_layers_are_lowered(monkeypatch, layer, input_shape, lowered):
    from paddle_gan import fast_conv
    calls = []
    for name in ("unfold", "fold"):
        original = getattr(fast_conv.F, name)
        monkeypatch.setattr(fast_conv.F, name,
                            lambda *args, _f=original, **kw: calls.append(1) or _f(*args, **kw))
    use_fast_convolutions(layer)
    layer(paddle.zeros(input_shape))
    assert bool(calls) is lowered
