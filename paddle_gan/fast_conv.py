"""Faster CPU convolutions: the same Conv2D and Conv2DTranspose, computed in fewer, larger steps.

Two things make Paddle's CPU convolutions slow here, and both are avoidable without changing
what is computed (up to float rounding):
- its kernels unfold and multiply one sample at a time. When that per-sample multiply is thin -
  a 3x3 map (the DCGAN's deepest layers) or one channel (the MNIST image) - MKL runs far below
  its peak; unfolding the whole batch and doing one [batch * positions, C*k*k] multiply is 2-3x
  faster, forward and backward;
- the layers add their bias as [N, C, H, W] + [1, C, 1, 1], a broadcast Paddle's CPU kernel does
  ~15x slower than the same sum written as [N, C, H*W] + [C, 1].

`use_fast_convolutions(network)` switches a network's Conv2D and Conv2DTranspose layers to the
subclasses below, in place: parameters, names and state are untouched. Each call decides from
the shapes alone (`is_lowered`, so a seeded run stays reproducible); what the lowering does not
cover (groups, dilation, padding other than one int, channels-last, output_padding) runs
Paddle's kernel. For the CPU only: on a GPU cuDNN's kernels are the fast path. Per-layer times:
`python tools/benchmark.py --layers`.
"""
from __future__ import annotations

import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

# A per-sample multiply with a side this short is "thin": measured, sides of 9 and 16 ran 2-3x
# slower than the lowered form; 49 and more ran as fast or faster in Paddle's own kernel.
THIN = 32


def _lowerable(layer) -> bool:
    """A stride-only, zero-padded, NCHW, ungrouped convolution with one int of padding."""
    return (
        layer._groups == 1
        and layer._data_format == "NCHW"
        and layer._padding_mode == "zeros"
        and list(layer._dilation) == [1, 1]
        and isinstance(layer._padding, int)
        and not getattr(layer, "output_padding", 0)
    )


def _output_size(layer, h: int, w: int) -> tuple:
    """A Conv2D's output map size for an h x w input."""
    (kh, kw), (sh, sw), pad = layer._kernel_size, layer._stride, layer._padding
    return (h + 2 * pad - kh) // sh + 1, (w + 2 * pad - kw) // sw + 1


def _thin(layer, positions: int) -> bool:
    """A side of the per-sample multiply is short: the weight's C*k*k (Conv2D) or out*k*k
    (Conv2DTranspose), or the map's positions (a Conv2D's output, a Conv2DTranspose's input)."""
    return min(math.prod(layer.weight.shape[1:]), positions) < THIN


def is_lowered(layer, input_shape) -> bool:
    """Whether the fast form runs `layer` on an NCHW input of this shape as one batch-wide
    matmul: the layer is lowerable and its per-sample multiply is thin. A Conv2DTranspose
    called with output_size is never lowered."""
    if not _lowerable(layer):
        return False
    h, w = input_shape[2], input_shape[3]
    if isinstance(layer, nn.Conv2DTranspose):
        return _thin(layer, h * w)
    return _thin(layer, math.prod(_output_size(layer, h, w)))


def _add_channel_bias(x, bias):
    if bias is None:
        return x
    n, c, h, w = x.shape
    return (x.reshape([n, c, h * w]) + bias.reshape([c, 1])).reshape([n, c, h, w])


class FastConv2D(nn.Conv2D):
    """Conv2D; thin per-sample multiplies [out, C*k*k] x [C*k*k, positions] run as one."""

    def forward(self, x):
        if not _lowerable(self):
            return super().forward(x)
        (kh, kw), (sh, sw), pad = self._kernel_size, self._stride, self._padding
        assert isinstance(pad, int)  # _lowerable
        n, _, h, w = x.shape
        oh, ow = _output_size(self, h, w)
        if not _thin(self, oh * ow):
            out = F.conv2d(x, self.weight, stride=self._stride, padding=pad)
            return _add_channel_bias(out, self.bias)
        cols = F.unfold(x, [kh, kw], [sh, sw], pad)  # [n, C*k*k, positions]
        rows = cols.transpose([0, 2, 1]).reshape([n * oh * ow, -1])
        out = paddle.matmul(rows, self.weight.reshape([self._out_channels, -1]), transpose_y=True)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape([n, oh, ow, -1]).transpose([0, 3, 1, 2])


class FastConv2DTranspose(nn.Conv2DTranspose):
    """Conv2DTranspose; thin per-sample multiplies [out*k*k, C] x [C, positions] run as one,
    followed by one fold (col2im) of the whole batch."""

    def forward(self, x, output_size=None):
        if output_size is not None or not _lowerable(self):
            return super().forward(x, output_size)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), pad = self._kernel_size, self._stride, self._padding
        assert isinstance(pad, int)  # _lowerable
        if not _thin(self, h * w):
            out = F.conv2d_transpose(x, self.weight, stride=self._stride, padding=pad)
            return _add_channel_bias(out, self.bias)
        oh, ow = (h - 1) * sh - 2 * pad + kh, (w - 1) * sw - 2 * pad + kw
        rows = x.transpose([0, 2, 3, 1]).reshape([n * h * w, c])
        cols = paddle.matmul(rows, self.weight.reshape([c, -1]))  # [n * positions, out*k*k]
        cols = cols.reshape([n, h * w, -1]).transpose([0, 2, 1])
        return _add_channel_bias(F.fold(cols, [oh, ow], [kh, kw], [sh, sw], pad), self.bias)


_FAST = {nn.Conv2D: FastConv2D, nn.Conv2DTranspose: FastConv2DTranspose}


def use_fast_convolutions(network: nn.Layer) -> int:
    """Switch the network's Conv2D/Conv2DTranspose layers to the fast classes, in place;
    returns how many were switched."""
    switched = 0
    for layer in network.sublayers(include_self=True):
        fast = _FAST.get(type(layer))
        if fast is not None:
            layer.__class__ = fast
            switched += 1
    return switched
