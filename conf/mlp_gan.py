"""A plain TensorFlow MLP GAN on MNIST, as the classic "GAN in TensorFlow" MLP writes it.

D: 784 -> 128 (ReLU) -> 1 logit; D(x) is its sigmoid. G: 100 -> 128 (ReLU) -> 784 (sigmoid), so
samples are in [0, 1], the pixel range the MNIST data is scaled to for this conf. D minimises
-mean(log D(x) + log(1 - D(G(z)))), G -mean(log D(G(z))): `non_saturating`. Adam with
TensorFlow's defaults (lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8) for each network, batch 256.

The TensorFlow loop does one D update and then one G update per iteration, each with fresh noise;
here a D iteration and a G iteration alternate (`alternate`, 1:1), so its 50,000 iterations are
100,000 here (50 passes x 2000). Chosen where the code leaves it open: the noise is uniform on
[-1, 1] (what it samples with), weights start ~ N(0, sqrt(2 / fan_in)) (its `xavier_init`, which
despite the name uses that standard deviation), biases at 0. Sublayer names are structural, so
the three networks built from this module share them.
"""
import math

import paddle.nn as nn

NOISE_DIM = 100
HIDDEN = 128
PIXELS = 28 * 28

DEFAULTS = {
    "batch_size": 256,
    "num_passes": 50,
    "iters_per_pass": 2000,
    "noise": "uniform",
    "pixel_range": [0.0, 1.0],
    "loss": {"name": "non_saturating"},
    "optimizer": {"name": "adam", "learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999,
                  "epsilon": 1e-8},
    "scheduler": {"name": "alternate", "d_steps": 1, "g_steps": 1},
}


def _fc(in_dim, out_dim):
    return nn.Linear(in_dim, out_dim,
                     weight_attr=nn.initializer.Normal(0.0, math.sqrt(2.0 / in_dim)),
                     bias_attr=nn.initializer.Constant(0.0))


class Generator(nn.Layer):
    """noise [B, 100] -> images [B, 1, 28, 28] in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.hidden = _fc(NOISE_DIM, HIDDEN)
        self.out = _fc(HIDDEN, PIXELS)

    def forward(self, noise):
        x = nn.functional.sigmoid(self.out(nn.functional.relu(self.hidden(noise))))
        return x.reshape([-1, 1, 28, 28])


class Discriminator(nn.Layer):
    """images [B, C, 28, 28] -> one logit [B, 1] (C = 1, or the packing's m: PacGAN)."""

    def __init__(self, channels=1):
        super().__init__()
        self.hidden = _fc(channels * PIXELS, HIDDEN)
        self.out = _fc(HIDDEN, 1)

    def forward(self, images):
        x = images.reshape([images.shape[0], -1])
        return self.out(nn.functional.relu(self.hidden(x)))


def _check_mnist(sample_shape, packed=False):
    """MNIST's 1x28x28 images; D's may be packed, m images stacked as m channels."""
    if tuple(sample_shape[1:]) != (28, 28) or (sample_shape[0] != 1 and not packed):
        raise ValueError(f"this MLP GAN is for MNIST's 1x28x28 images, got {tuple(sample_shape)}")


def build_generator(sample_shape):
    _check_mnist(sample_shape)
    return Generator()


def build_discriminator(sample_shape, logits=1):
    """One logit whatever is asked: a loss that needs another number is refused by name."""
    _check_mnist(sample_shape, packed=True)
    return Discriminator(sample_shape[0])
