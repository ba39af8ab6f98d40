"""The later Keras AC-GAN generator (keras/examples/mnist_acgan.py after its 2017 rewrite) with
conf/acgan.py's discriminator, training and class conditioning.

Why a second AC-GAN conf: conf/acgan.py's generator (the example's first version, no normalisation)
drives every pixel to tanh's floor, -1, within its first 10 G updates here, in Paddle and in a
PyTorch copy of the same recipe alike, and does not come back (docs/conditional.md). The rewrite's
generator normalises its feature maps:

G: noise (100, uniform on [-1, 1]) times a learned class embedding (10 x 100); Dense 3x3x384
relu; reshape; transposed conv 192 5x5 "valid" relu (3 -> 7); batch norm; transposed conv 96
5x5 stride 2 relu (7 -> 14); batch norm; transposed conv 1 5x5 stride 2 tanh (14 -> 28).
Glorot-normal convolutions and embedding, Glorot-uniform dense layer, biases at 0; Keras's
batch-norm momentum 0.99 and epsilon 1e-3. Batch norm uses the batch's statistics in training
and the running ones in the generator that draws samples. D, loss, optimiser, batch and
schedule: conf/acgan.py's DEFAULTS.
"""
import importlib.util
from pathlib import Path

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

# conf/acgan.py beside this file: its D, DEFAULTS and initialisers, not a copy of them
_spec = importlib.util.spec_from_file_location("paddle_gan_conf_acgan_base",
                                               Path(__file__).with_name("acgan.py"))
acgan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(acgan)

NOISE_DIM = acgan.NOISE_DIM
NUM_CLASSES = acgan.NUM_CLASSES
DEFAULTS = acgan.DEFAULTS


def _deconv(in_ch, out_ch, stride, padding, output_padding=0):
    return nn.Conv2DTranspose(in_ch, out_ch, 5, stride=stride, padding=padding,
                              output_padding=output_padding,
                              weight_attr=acgan._glorot_normal(), bias_attr=acgan._zeros())


def _bn(channels):
    # Keras's momentum 0.99 is Paddle's momentum 0.99 (running = 0.99 running + 0.01 batch)
    return nn.BatchNorm2D(channels, momentum=0.99, epsilon=1e-3)


class Generator(nn.Layer):
    """(noise [B, 100], labels [B] int64) -> images [B, 1, 28, 28] in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(NUM_CLASSES, NOISE_DIM, weight_attr=acgan._glorot_normal())
        self.dense = acgan._dense(NOISE_DIM, 3 * 3 * 384)
        self.deconv1 = _deconv(384, 192, stride=1, padding=0)
        self.bn1 = _bn(192)
        self.deconv2 = _deconv(192, 96, stride=2, padding=2, output_padding=1)
        self.bn2 = _bn(96)
        self.deconv3 = _deconv(96, 1, stride=2, padding=2, output_padding=1)

    def forward(self, noise, labels):
        x = F.relu(self.dense(noise * self.embedding(labels))).reshape([-1, 384, 3, 3])
        x = self.bn1(F.relu(self.deconv1(x)))
        x = self.bn2(F.relu(self.deconv2(x)))
        return paddle.tanh(self.deconv3(x))


def build_generator(sample_shape):
    acgan._check_mnist(sample_shape)
    return Generator()


def build_discriminator(sample_shape, logits=1):
    return acgan.build_discriminator(sample_shape, logits)
