"""An MLP GAN for the 2-D Gaussian mixtures (`-d ring`, `-d grid`), in the style of the unrolled
GAN and VEEGAN mixture experiments: no batch norm (v1's discriminator normalises the real and the
fake batch each by its own statistics, which hides the modes from it), wider layers.

G: noise 16 (normal) -> 3 x 128 ReLU -> 2. D: 2 -> 3 x 128 LeakyReLU(0.2) -> logits (one score,
or two for v1's softmax loss). Adam lr 1e-3, beta1 0.5, batch 256, the `alternate` 1:1
schedule, non-saturating loss; 10 passes x 1,000 iterations (each network trained 5,000 times).
Weights ~ N(0, 1/sqrt(fan_in)), biases 0. Sublayer names are structural, so the three networks
built from this module share them.
"""
import math

import paddle.nn as nn

NOISE_DIM = 16
HIDDEN = 128
LAYERS = 3

DEFAULTS = {
    "batch_size": 256,
    "num_passes": 10,
    "iters_per_pass": 1000,
    "loss": {"name": "non_saturating"},
    "optimizer": {"learning_rate": 1e-3, "beta1": 0.5},
    "scheduler": {"name": "alternate", "d_steps": 1, "g_steps": 1},
}


def _fc(in_dim, out_dim):
    return nn.Linear(in_dim, out_dim,
                     weight_attr=nn.initializer.Normal(0.0, 1.0 / math.sqrt(in_dim)),
                     bias_attr=nn.initializer.Constant(0.0))


def _mlp(in_dim, out_dim, activation):
    layers = []
    for _ in range(LAYERS):
        layers += [_fc(in_dim, HIDDEN), activation()]
        in_dim = HIDDEN
    return nn.Sequential(*layers, _fc(HIDDEN, out_dim))


def _check_points(sample_shape, packed=False):
    """2-D points; D's may be packed, m points as one vector of 2m (PacGAN)."""
    if len(sample_shape) != 1 or sample_shape[0] % 2 or (sample_shape[0] != 2 and not packed):
        raise ValueError(f"this MLP GAN is for 2-D points, got samples of shape "
                         f"{tuple(sample_shape)}")


def build_generator(sample_shape):
    """noise [B, 16] -> points [B, 2]."""
    _check_points(sample_shape)
    return _mlp(NOISE_DIM, 2, nn.ReLU)


def build_discriminator(sample_shape, logits=2):
    """points [B, 2] (packed: [B, 2m]) -> logits [B, logits]."""
    _check_points(sample_shape, packed=True)
    return _mlp(sample_shape[0], logits, lambda: nn.LeakyReLU(0.2))
