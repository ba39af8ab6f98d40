"""The v1 demo's uniform config (gan_conf.py): MLP generator and discriminator for 2-D points.

Sizes and initialisations follow v1: noise 10, hidden 10, sample 2; every bias starts at 1.0,
batch-norm scales ~ N(1, 0.02), fc weights use v1's default N(0, 1/sqrt(fan_in)). As in v1
(`use_global_stats=False`), batch norm always normalises with the batch's own statistics. The
discriminator returns two logits (real/fake; the softmax of v1 is fused into the loss), or one
score for the losses that need one.
Parameter names are structural (`hidden`, `hidden2`, `hidden_bn`, `out`), so the three networks
built from this module share them exactly.
"""
import math

import paddle.nn as nn

NOISE_DIM = 10
HIDDEN_DIM = 10

# v1: batch 128, Adam lr 1e-4 beta1 0.5, 10,000 iterations a pass, 100 passes.
DEFAULTS = {
    "batch_size": 128,
    "num_passes": 100,
    "iters_per_pass": 10_000,
    "optimizer": {"learning_rate": 1e-4, "beta1": 0.5},
}


def _fc(in_dim, out_dim):
    std = 1.0 / math.sqrt(in_dim)
    return nn.Linear(
        in_dim,
        out_dim,
        weight_attr=nn.initializer.Normal(0.0, std),
        bias_attr=nn.initializer.Constant(1.0),
    )


def _bn(dim):
    # v1 (use_global_stats=False): batch statistics in training and inference alike.
    return nn.BatchNorm1D(
        dim,
        weight_attr=nn.initializer.Normal(1.0, 0.02),
        bias_attr=nn.initializer.Constant(1.0),
        use_global_stats=False,
    )


class MLP(nn.Layer):
    """fc relu -> fc linear -> batch-norm relu -> fc linear (v1's shape for both networks)."""

    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.hidden = _fc(in_dim, HIDDEN_DIM)
        self.hidden2 = _fc(HIDDEN_DIM, HIDDEN_DIM)
        self.hidden_bn = _bn(HIDDEN_DIM)
        self.out = _fc(HIDDEN_DIM, out_dim)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.relu(self.hidden(x))
        x = self.relu(self.hidden_bn(self.hidden2(x)))
        return self.out(x)


def build_generator(sample_shape):
    """noise [B, 10] -> points [B, 2]."""
    return MLP(NOISE_DIM, sample_shape[0])


def build_discriminator(sample_shape, logits=2):
    """points [B, 2] -> logits [B, 2] (index 1 = real): v1's. A loss that needs one logit (a
    score) asks for it with logits=1."""
    return MLP(sample_shape[0], logits)
