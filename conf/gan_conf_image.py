"""The v1 demo's image config (gan_conf_image.py): the DCGAN for MNIST (1x28x28) and CIFAR-10
(3x32x32). Sizes follow from the sample: s2, s4, s8 = int(size/2), int(size/4), int(size/8), and
every (transposed) convolution's filter and padding come from v1's rule
`t = big - (small - 1) * 2` (`filter_and_padding`), which makes a stride-2 convolution map
big -> small and the transposed one small -> big exactly. G: fc to s8*s8*gf*4, batch-norm relu,
then three transposed convolutions to s4 (gf*2), s2 (gf), full size (channels, tanh, no batch
norm). D: three convolutions to s2 (df, relu, no batch norm), s4 (df*2) and s8 (df*4), then fc
to two logits (real/fake; v1's softmax is fused into the loss). Weights ~ N(0, 0.02), biases 0,
batch-norm scales ~ N(1, 0.02). Sublayer names are structural, so the three networks share them.
"""
import paddle
import paddle.nn as nn

NOISE_DIM = 100
GF_DIM = DF_DIM = 64
STRIDE = 2

# v1: batch 128, Adam lr 2e-4 beta1 0.5, 1000 iterations a pass, 100 passes.
DEFAULTS = {
    "batch_size": 128,
    "num_passes": 100,
    "iters_per_pass": 1000,
    "optimizer": {"learning_rate": 2e-4, "beta1": 0.5},
}


def filter_and_padding(big: int, small: int, stride: int = STRIDE):
    """v1's rule for a layer between sizes big and small: t in 2..3 -> filter t+2, padding 1;
    t in 4..5 -> filter t, padding 0; anything else is a ValueError (the trainer reports it as
    one line, exit 2)."""
    t = big - (small - 1) * stride
    if 2 <= t <= 3:
        return t + 2, 1
    if 4 <= t <= 5:
        return t, 0
    raise ValueError(
        f"no v1 filter/padding maps size {big} to {small} with stride {stride} "
        f"(t = {big} - ({small} - 1) * {stride} = {t}, expected 2..5)"
    )


def sizes(size: int):
    return int(size / 2), int(size / 4), int(size / 8)


def _weight():
    return paddle.ParamAttr(initializer=nn.initializer.Normal(0.0, 0.02))


def _bias():
    return paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))


def _bn(channels, layer=nn.BatchNorm2D):
    # v1 (use_global_stats=False): batch statistics in training and inference alike.
    return layer(
        channels,
        weight_attr=paddle.ParamAttr(initializer=nn.initializer.Normal(1.0, 0.02)),
        bias_attr=_bias(),
        use_global_stats=False,
    )


def _conv(in_ch, out_ch, big, small):
    """A stride-2 convolution from big x big to small x small."""
    filter_size, padding = filter_and_padding(big, small)
    return nn.Conv2D(in_ch, out_ch, filter_size, STRIDE, padding,
                     weight_attr=_weight(), bias_attr=_bias())


def _deconv(in_ch, out_ch, small, big):
    """A stride-2 transposed convolution from small x small to big x big. Its output size,
    (small - 1) * 2 - 2 * padding + filter, is exactly `big` for every t the rule accepts, so no
    output_padding is needed (tests check 28 and 32)."""
    filter_size, padding = filter_and_padding(big, small)
    return nn.Conv2DTranspose(in_ch, out_ch, filter_size, STRIDE, padding,
                              weight_attr=_weight(), bias_attr=_bias())


def _fc(in_dim, out_dim):
    return nn.Linear(in_dim, out_dim, weight_attr=_weight(), bias_attr=_bias())


class DCGenerator(nn.Layer):
    """noise [B, 100] -> images [B, C, H, W] in [-1, 1]."""

    def __init__(self, sample_shape):
        super().__init__()
        channels, size = sample_shape[0], sample_shape[1]
        s2, s4, s8 = sizes(size)
        self.start_shape = [-1, GF_DIM * 4, s8, s8]
        self.fc = _fc(NOISE_DIM, s8 * s8 * GF_DIM * 4)
        # v1 normalises the fc output per feature, before it is seen as a GF_DIM*4 x s8 x s8 image.
        self.fc_bn = _bn(s8 * s8 * GF_DIM * 4, nn.BatchNorm1D)
        self.deconv1 = _deconv(GF_DIM * 4, GF_DIM * 2, s8, s4)
        self.deconv1_bn = _bn(GF_DIM * 2)
        self.deconv2 = _deconv(GF_DIM * 2, GF_DIM, s4, s2)
        self.deconv2_bn = _bn(GF_DIM)
        self.deconv3 = _deconv(GF_DIM, channels, s2, size)
        self.relu = nn.ReLU()
        self.tanh = nn.Tanh()

    def forward(self, noise):
        x = self.relu(self.fc_bn(self.fc(noise))).reshape(self.start_shape)
        x = self.relu(self.deconv1_bn(self.deconv1(x)))
        x = self.relu(self.deconv2_bn(self.deconv2(x)))
        return self.tanh(self.deconv3(x))


class DCDiscriminator(nn.Layer):
    """images [B, C, H, W] -> logits [B, 2] (index 1 = real), or [B, 1] for a one-logit loss."""

    def __init__(self, sample_shape, logits=2):
        super().__init__()
        channels, size = sample_shape[0], sample_shape[1]
        s2, s4, s8 = sizes(size)
        self.conv1 = _conv(channels, DF_DIM, size, s2)
        self.conv2 = _conv(DF_DIM, DF_DIM * 2, s2, s4)
        self.conv2_bn = _bn(DF_DIM * 2)
        self.conv3 = _conv(DF_DIM * 2, DF_DIM * 4, s4, s8)
        self.conv3_bn = _bn(DF_DIM * 4)
        self.out = _fc(s8 * s8 * DF_DIM * 4, logits)
        self.relu = nn.ReLU()

    def forward(self, images):
        x = self.relu(self.conv1(images))
        x = self.relu(self.conv2_bn(self.conv2(x)))
        x = self.relu(self.conv3_bn(self.conv3(x)))
        # reshape, not flatten: a gradient penalty's double backward has no op for flatten
        return self.out(x.reshape([x.shape[0], -1]))


def _check_square(sample_shape):
    if len(sample_shape) != 3 or sample_shape[1] != sample_shape[2] or sample_shape[1] < 8:
        raise ValueError(
            f"the DCGAN conf needs square images (C, H, H) with H >= 8, got {tuple(sample_shape)}"
        )


def build_generator(sample_shape):
    """noise [B, 100] -> images of sample_shape (C, H, W)."""
    _check_square(sample_shape)
    return DCGenerator(sample_shape)


def build_discriminator(sample_shape, logits=2):
    """images of sample_shape (C, H, W) -> logits [B, 2] (v1), or [B, 1] when asked."""
    _check_square(sample_shape)
    return DCDiscriminator(sample_shape, logits)
