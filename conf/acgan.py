"""The Keras AC-GAN on MNIST (keras/examples/mnist_acgan.py, Odena et al. 2017), as a conf module.

A conditional conf: `NUM_CLASSES` is set, so G takes (noise, label) and D returns (real/fake
logit(s), class logits); the trainer adds the auxiliary class cross-entropy to the loss.

G: noise (100, uniform on [-1, 1]) times a learned class embedding (10 x 100), element-wise;
Dense 1024 relu; Dense 128x7x7 relu; reshape; upsample x2; conv 256 5x5 relu; upsample x2; conv
128 5x5 relu; conv 1 2x2 tanh. Why multiply the noise by the embedding: G's first layer then
computes W (e_c * z) = (W diag(e_c)) z, so each class gets its own first-layer weights, built
from the shared W and 100 numbers of its own, at no extra width. Appending a one-hot class to z
instead would give each class only its own bias (W [z; onehot] = W_z z + w_c).

D: conv 32 3x3 stride 2; conv 64 3x3 stride 1; conv 128 3x3 stride 2; conv 256 3x3 stride 1 (the
example's strides: 28 -> 14 -> 14 -> 7 -> 7), each with leaky ReLU (Keras's default slope 0.3)
and dropout 0.3; flatten; two heads: the real/fake logit (Keras: a sigmoid, fused into the loss
here) and 10 class logits (Keras: a softmax, fused into the cross-entropy).

As Keras builds it: Glorot-normal convolutions in G and the embedding, Glorot-uniform (Keras's
default) elsewhere, biases at 0, "same" padding. Where Keras pads an even or strided "same"
convolution on one side only, this conf pads 3x3 convolutions by 1 all round (the output sizes
are Keras's) and G's last 2x2 convolution by one row and column at the bottom and right (as
TensorFlow does). Training as the example: Adam lr 2e-4, beta1 0.5; batch 100; D on real and
fake with their classes, G on 2 x batch noise (`loss.g_batches: 2`) with "real" targets and
sampled classes. A D iteration and a G iteration alternate, so the example's 50 epochs (600 D
and 600 G updates each) are 100 passes of one epoch of batches here (`iters_per_pass: epoch`).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

NOISE_DIM = 100
NUM_CLASSES = 10
DROPOUT = 0.3
LEAK = 0.3  # Keras's LeakyReLU default

DEFAULTS = {
    "batch_size": 100,
    "num_passes": 100,
    "iters_per_pass": "epoch",
    "noise": "uniform",
    "pixel_range": [-1.0, 1.0],
    "loss": {"name": "non_saturating", "aux_weight": 1.0, "g_batches": 2},
    "optimizer": {"name": "adam", "learning_rate": 2e-4, "beta1": 0.5, "beta2": 0.999,
                  "epsilon": 1e-8},
    "scheduler": {"name": "alternate", "d_steps": 1, "g_steps": 1},
}


def _glorot_normal():
    return paddle.ParamAttr(initializer=nn.initializer.XavierNormal())


def _glorot_uniform():
    return paddle.ParamAttr(initializer=nn.initializer.XavierUniform())


def _zeros():
    return paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))


def _dense(in_dim, out_dim):
    return nn.Linear(in_dim, out_dim, weight_attr=_glorot_uniform(), bias_attr=_zeros())


def _conv(in_ch, out_ch, kernel, stride=1, padding=0, init=_glorot_uniform):
    return nn.Conv2D(in_ch, out_ch, kernel, stride=stride, padding=padding,
                     weight_attr=init(), bias_attr=_zeros())


class Generator(nn.Layer):
    """(noise [B, 100], labels [B] int64) -> images [B, 1, 28, 28] in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(NUM_CLASSES, NOISE_DIM, weight_attr=_glorot_normal())
        self.dense1 = _dense(NOISE_DIM, 1024)
        self.dense2 = _dense(1024, 128 * 7 * 7)
        self.conv1 = _conv(128, 256, 5, padding=2, init=_glorot_normal)
        self.conv2 = _conv(256, 128, 5, padding=2, init=_glorot_normal)
        self.conv3 = _conv(128, 1, 2, init=_glorot_normal)

    def forward(self, noise, labels):
        x = noise * self.embedding(labels)
        x = F.relu(self.dense2(F.relu(self.dense1(x)))).reshape([-1, 128, 7, 7])
        x = F.relu(self.conv1(F.interpolate(x, scale_factor=2, mode="nearest")))
        x = F.relu(self.conv2(F.interpolate(x, scale_factor=2, mode="nearest")))
        return paddle.tanh(self.conv3(F.pad(x, [0, 1, 0, 1])))  # "same" for 2x2: bottom, right


class Discriminator(nn.Layer):
    """images [B, 1, 28, 28] -> (real/fake logits [B, logits], class logits [B, 10])."""

    def __init__(self, logits: int):
        super().__init__()
        self.conv1 = _conv(1, 32, 3, stride=2, padding=1)
        self.conv2 = _conv(32, 64, 3, padding=1)
        self.conv3 = _conv(64, 128, 3, stride=2, padding=1)
        self.conv4 = _conv(128, 256, 3, padding=1)
        self.dropout = nn.Dropout(DROPOUT)
        self.adversarial = _dense(256 * 7 * 7, logits)
        self.classes = _dense(256 * 7 * 7, NUM_CLASSES)

    def forward(self, images):
        x = images
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.dropout(F.leaky_relu(conv(x), LEAK))
        x = x.reshape([x.shape[0], -1])  # reshape, not flatten: it has a double backward
        return self.adversarial(x), self.classes(x)


def _check_mnist(sample_shape):
    if tuple(sample_shape) != (1, 28, 28):
        raise ValueError(f"the AC-GAN is for MNIST's 1x28x28 images, got {tuple(sample_shape)}")


def build_generator(sample_shape):
    _check_mnist(sample_shape)
    return Generator()


def build_discriminator(sample_shape, logits=1):
    _check_mnist(sample_shape)
    return Discriminator(logits)
