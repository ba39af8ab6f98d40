"""The leaky-ReLU MLP GAN on MNIST of the well-known TensorFlow notebook (one hidden layer each).

G: 100 -> 128 (leaky ReLU, alpha 0.01) -> 784 (tanh), so samples are in [-1, 1], the range the
data is scaled to. D: 784 -> 128 (leaky ReLU, alpha 0.01) -> 1 logit (sigmoid in the loss).
Non-saturating loss with one-sided label smoothing: real images are labelled 0.9. Adam lr 2e-3
(TensorFlow's beta1 0.9), batch 100; a sample grid every pass.

The notebook trains 100 epochs of 600 batches, one D update and then one G update per batch;
here a D iteration and a G iteration alternate, so an epoch is a pass of 1200 iterations. Chosen
where it leaves things open: the noise is uniform on [-1, 1] (as it samples), weights start as
TensorFlow's dense layers start them (Glorot uniform, biases 0).
"""
import paddle.nn as nn

NOISE_DIM = 100
HIDDEN = 128
PIXELS = 28 * 28
ALPHA = 0.01

DEFAULTS = {
    "batch_size": 100,
    "num_passes": 100,
    "iters_per_pass": 1200,
    "noise": "uniform",
    "pixel_range": [-1.0, 1.0],
    "loss": {"name": "non_saturating", "real_label": 0.9},
    "optimizer": {"name": "adam", "learning_rate": 2e-3, "beta1": 0.9, "beta2": 0.999,
                  "epsilon": 1e-8},
    "scheduler": {"name": "alternate", "d_steps": 1, "g_steps": 1},
}


def _fc(in_dim, out_dim):
    return nn.Linear(in_dim, out_dim, weight_attr=nn.initializer.XavierUniform(),
                     bias_attr=nn.initializer.Constant(0.0))


class Generator(nn.Layer):
    """noise [B, 100] -> images [B, 1, 28, 28] in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.hidden = _fc(NOISE_DIM, HIDDEN)
        self.out = _fc(HIDDEN, PIXELS)

    def forward(self, noise):
        x = nn.functional.leaky_relu(self.hidden(noise), ALPHA)
        return nn.functional.tanh(self.out(x)).reshape([-1, 1, 28, 28])


class Discriminator(nn.Layer):
    """images [B, C, 28, 28] -> one logit [B, 1] (C = 1, or the packing's m: PacGAN)."""

    def __init__(self, channels=1):
        super().__init__()
        self.hidden = _fc(channels * PIXELS, HIDDEN)
        self.out = _fc(HIDDEN, 1)

    def forward(self, images):
        x = images.reshape([images.shape[0], -1])
        return self.out(nn.functional.leaky_relu(self.hidden(x), ALPHA))


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
