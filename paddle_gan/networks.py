"""The three networks of the v1 demo, built from one conf module, and sync of shared parameters.

`generator_training` (noise -> G -> D, only G trained), `discriminator_training` (sample -> D,
only D trained) and `generator` (noise -> G, inference) each own their own copy of the
parameters, with identical structural names (`gen.hidden.weight`, `dis.out.bias`, ...). After
every training step the trained network's values are copied by name to the others, as v1 did;
a name found in only one network is skipped and a shape mismatch is an error. With `ema` the
`generator` averages G's values instead of copying them (`EmaSettings`).

With `packing: m` (PacGAN) D judges m samples at once: both networks that hold D pack its input,
m consecutive samples of a batch stacked along the first axis of a sample (an image's channels,
a point's coordinates), so D is built for samples of shape (m * C, ...) and gives one output per
pack. A conf supports packing when its `build_discriminator(sample_shape, logits)` sizes D's
input from the shape it is given.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from .config import conf_error
from .distributed import ALONE, Ranks
from .errors import ConfigError, Diverged, SyncError
from .roles import DIS, GEN


def pack(samples: paddle.Tensor, packing: int) -> paddle.Tensor:
    """[B, C, ...] -> [B / packing, packing * C, ...]: each run of `packing` consecutive samples
    stacked along the first sample axis (a reshape: the batch is stored sample after sample)."""
    if packing == 1:
        return samples
    return samples.reshape([samples.shape[0] // packing, packing * samples.shape[1],
                            *samples.shape[2:]])


def packed_shape(sample_shape: tuple, packing: int) -> tuple:
    """The shape of what a packed D judges."""
    return (sample_shape[0] * packing, *sample_shape[1:])


class GeneratorTraining(nn.Layer):
    """noise (and labels) -> G -> D -> outputs; D is frozen here (its values only ever arrive by
    sync)."""

    def __init__(self, gen: nn.Layer, dis: nn.Layer, packing: int = 1):
        super().__init__()
        self.gen, self.dis, self.packing = gen, dis, packing

    def forward(self, noise, labels=None):
        fake = self.gen(noise) if labels is None else self.gen(noise, labels)
        return self.dis(pack(fake, self.packing))


class DiscriminatorTraining(nn.Layer):
    """sample -> D -> outputs (a conditional conf's: real/fake outputs and class logits); with
    packing, samples -> packs -> D -> an output per pack."""

    def __init__(self, dis: nn.Layer, packing: int = 1):
        super().__init__()
        self.dis, self.packing = dis, packing

    def forward(self, sample):
        return self.dis(pack(sample, self.packing))


class Generator(nn.Layer):
    """noise (and labels) -> G -> sample; inference only, it makes the fake batches and the
    sample grids."""

    def __init__(self, gen: nn.Layer):
        super().__init__()
        self.gen = gen

    def forward(self, noise, labels=None):
        return self.gen(noise) if labels is None else self.gen(noise, labels)


Pairs = List[Tuple[str, paddle.Tensor, paddle.Tensor]]


def shared_pairs(src: nn.Layer, dst: nn.Layer) -> Pairs:
    """(name, src tensor, dst tensor) for every parameter or buffer named in both networks."""
    src_state = src.state_dict()
    pairs = []
    for name, dst_tensor in dst.state_dict().items():
        src_tensor = src_state.get(name)
        if src_tensor is None:
            continue
        if list(src_tensor.shape) != list(dst_tensor.shape):
            raise SyncError(
                f"cannot sync '{name}': shape {list(src_tensor.shape)} in "
                f"{type(src).__name__} but {list(dst_tensor.shape)} in {type(dst).__name__}"
            )
        pairs.append((name, src_tensor, dst_tensor))
    return pairs


def copy_pairs(pairs: Pairs) -> None:
    # In place, a deep copy: 1 us against 8 for assign. copy_ records no autograd history
    # (tested: the copy stays a leaf and its source gets no gradient), so no no_grad() needed.
    for _, src_tensor, dst_tensor in pairs:
        # Paddle's stub declares copy_() without the (src, blocking) its C++ method takes
        dst_tensor.copy_(src_tensor, True)  # type: ignore[call-arg]


def average_pairs(pairs: Pairs, weight: float) -> None:
    """dst += weight * (src - dst), in place, for every floating pair (the moving average's
    step, as torch.optim.swa_utils and timm's EMA take it); other dtypes are copied."""
    with paddle.no_grad():
        for _, src_tensor, dst_tensor in pairs:
            if dst_tensor.dtype in (paddle.float32, paddle.float64, paddle.float16,
                                    paddle.bfloat16):
                dst_tensor.lerp_(src_tensor, weight)
            else:
                dst_tensor.copy_(src_tensor, True)  # type: ignore[call-arg]  # as in copy_pairs


def _batch_norms(layer: nn.Layer):
    return [sub for sub in layer.sublayers(include_self=True)
            if isinstance(sub, nn.layer.norm._BatchNormBase)]


def uses_batch_statistics(layer: nn.Layer) -> bool:
    """True when every batch norm in `layer` follows v1's rule (use_global_stats=False):
    batch statistics in training and inference alike, running averages never read."""
    return all(bn._use_global_stats is False for bn in _batch_norms(layer))


def _keep_running_statistics(layer: nn.Layer) -> None:
    # Momentum 1 keeps a batch norm's running statistics exactly as the last sync left them,
    # while it still normalises each batch with the batch's own statistics.
    for bn in _batch_norms(layer):
        bn._momentum = 1.0


def _changeable(network: nn.Layer) -> set:
    """Names a training step of `network` can change: trainable parameters, running statistics
    of batch norms whose momentum lets them move, and every other buffer (spectral norm's power
    iteration vectors, say: they move with each forward in training mode)."""
    names = {name for name, param in network.named_parameters() if not param.stop_gradient}
    for prefix, bn in network.named_sublayers():
        # Paddle keeps the running statistics as parameters that take no gradient (so neither
        # the line above nor named_buffers finds them)
        if isinstance(bn, nn.layer.norm._BatchNormBase) and bn._momentum != 1.0:
            names.update({f"{prefix}._mean", f"{prefix}._variance"})
    names.update(name for name, _ in network.named_buffers())
    return names


def _freeze(layer: nn.Layer) -> None:
    for param in layer.parameters():
        param.stop_gradient = True
    _keep_running_statistics(layer)


@dataclass
class Networks:
    gen_training: GeneratorTraining
    dis_training: DiscriminatorTraining
    generator: Generator
    opt_g: paddle.optimizer.Optimizer
    opt_d: paddle.optimizer.Optimizer
    noise_dim: int
    sample_shape: tuple
    num_classes: int = 0  # a conditional conf's NUM_CLASSES; 0: unconditional
    ranks: Ranks = ALONE  # data-parallel: the processes whose gradients are averaged
    packing: int = 1  # samples D judges at once
    ema_decay: float = 0.0  # the generator's average of G (0: a copy)
    ema_start: int = 0  # the iteration from which the generator averages
    # each optimiser's settings, when its learning rate decays over the run
    decaying: Tuple[Tuple[paddle.optimizer.Optimizer, object], ...] = ()
    precision: str = "float32"  # of the step's forwards; bf16: bfloat16 with float32 weights

    def compute_precision(self):
        """The step's compute: float32, or with `precision: bf16` Paddle's automatic mixed
        precision in bfloat16 (level O1: the matrix products and convolutions in bfloat16, the
        weights, their updates and the losses' reductions in float32)."""
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(enable=True, dtype="bfloat16", level="O1")

    def __post_init__(self):
        # The pairs are fixed once built (optimisers update tensors in place), so sync after
        # each step is a plain copy loop without re-walking the layers.
        to_dis = shared_pairs(self.gen_training, self.dis_training)
        to_generator = shared_pairs(self.gen_training, self.generator)
        self._from_gen = to_dis + to_generator
        # After a step only what that step can change needs copying: the other values are
        # equal already (a frozen D, or running statistics that never move, stay as synced).
        dis_changes, gen_changes = _changeable(self.dis_training), _changeable(self.gen_training)
        self._after_dis = [p for p in shared_pairs(self.dis_training, self.gen_training)
                           if p[0] in dis_changes]
        self._gen_to_dis = [p for p in to_dis if p[0] in gen_changes]
        self._gen_to_generator = [p for p in to_generator if p[0] in gen_changes]

    def update(self, network: str) -> None:
        """DIS's or GEN's optimiser step on its gradients (data-parallel: every rank's,
        averaged first), which are then cleared."""
        optimizer, net = ((self.opt_d, self.dis_training) if network == DIS else
                          (self.opt_g, self.gen_training.gen))
        self.ranks.average_gradients(net.parameters())
        optimizer.step()
        optimizer.clear_grad()

    def schedule(self, progress: float) -> None:
        """Set the learning rates for `progress`, the share of the run done (optimizers.py)."""
        from .optimizers import learning_rate

        for optimizer, settings in self.decaying:
            optimizer.set_lr(learning_rate(settings, progress))

    def sync_after(self, trained: str, iteration: int = 0) -> None:
        """v1's rule: after a D step D -> generator_training; after a G step G -> the others,
        or with EMA from `ema_start` on, the generator one step of the average nearer to G
        (`iteration`: the count of iterations done, this one included)."""
        if trained == DIS:
            copy_pairs(self._after_dis)
            return
        copy_pairs(self._gen_to_dis)
        if self.ema_decay and iteration > self.ema_start:
            average_pairs(self._gen_to_generator, 1.0 - self.ema_decay)
        else:
            copy_pairs(self._gen_to_generator)

    def sync_all(self) -> None:
        """The start-of-run sync: every value of generator_training to the other two."""
        copy_pairs(self._from_gen)

    def check_finite(self) -> None:
        """Raise Diverged naming the first parameter or statistic holding NaN or Inf. After a
        sync generator_training holds the newest values of both G and D."""
        for name, tensor in self.gen_training.state_dict().items():
            if not bool(paddle.isfinite(tensor).all()):
                raise Diverged(f"gen_training/{name}", "NaN/Inf", kind="parameter")


def build_from_conf(conf, builder: str, *args) -> nn.Layer:
    """conf.<builder>(*args). It is the user's own code: any error in it becomes one
    ConfigError line naming the conf file and line."""
    try:
        return getattr(conf, builder)(*args)
    except Exception as err:
        raise conf_error(getattr(conf, "__file__", conf), err) from err


def build_networks(conf, sample_shape: tuple, settings, logits: int = 2) -> Networks:
    """Three networks from one conf module, each with its own parameters, synced once. D is
    asked for `logits` outputs (what the loss needs) on samples packed `settings.packing` at a
    time; the optimisers and the generator's average are `settings`'."""
    from .registry import OPTIMIZERS

    shape, packing = tuple(sample_shape), settings.packing
    judged = packed_shape(shape, packing)
    gen_training = GeneratorTraining(build_from_conf(conf, "build_generator", shape),
                                     build_from_conf(conf, "build_discriminator", judged, logits),
                                     packing)
    dis_training = DiscriminatorTraining(
        build_from_conf(conf, "build_discriminator", judged, logits), packing)
    generator = Generator(build_from_conf(conf, "build_generator", shape))
    _freeze(gen_training.dis)
    _freeze(generator)
    generator.eval()
    for network in (gen_training, dis_training):
        # Under v1's batch-statistics rule the running averages are never read; keeping them
        # fixed makes a network's state a function of its updates alone, so every execution
        # path (plain or fast, whatever forwards it runs) leaves the same state.
        if uses_batch_statistics(network):
            _keep_running_statistics(network)

    def optimizer(network: str, params):
        own = settings.optimizer_of(network)
        return OPTIMIZERS.get(own.name)(own, params)

    opt_g, opt_d = optimizer(GEN, gen_training.gen.parameters()), optimizer(
        DIS, dis_training.parameters())
    nets = Networks(
        gen_training=gen_training,
        dis_training=dis_training,
        generator=generator,
        opt_g=opt_g,
        opt_d=opt_d,
        noise_dim=int(conf.NOISE_DIM),
        sample_shape=shape,
        num_classes=int(getattr(conf, "NUM_CLASSES", 0)),
        packing=packing,
        ema_decay=settings.ema.decay,
        ema_start=settings.ema.start,
        precision=settings.precision,
        decaying=tuple((opt, settings.optimizer_of(network)) for network, opt in (
            (GEN, opt_g), (DIS, opt_d)) if settings.optimizer_of(network).decay != "none"),
    )
    nets.sync_all()
    return nets


def check_precision(precision: str, device: str) -> None:
    """A ConfigError unless this Paddle computes in `precision` on `device`: one bfloat16
    matrix product and convolution tried (a CPU build of Paddle 3.3 has neither kernel, even on
    a CPU with AMX or AVX512-BF16)."""
    if precision != "bf16":
        return
    try:
        x = paddle.ones([2, 2, 4, 4], dtype="bfloat16")
        paddle.matmul(x, x)
        paddle.nn.functional.conv2d(x, paddle.ones([2, 2, 3, 3], dtype="bfloat16"))
    except Exception as err:  # Paddle's NotFound: "The kernel ... is not registered"
        kind = type(err).__name__
        raise ConfigError(f"precision bf16: Paddle {paddle.__version__} has no bfloat16 matrix "
                          f"product or convolution on {device} ({kind}; its CPU builds have "
                          "none, whatever the CPU); use a GPU with bfloat16 (NVIDIA Ampere or "
                          "newer), or precision: float32") from None


def discriminator_outputs(nets: Networks) -> Tuple[int, int]:
    """How many outputs D gives per sample (per pack): (real/fake outputs, class logits; 0 for
    an unconditional D). One forward of two zero samples (packs), in inference mode (which moves
    no statistics and draws no randomness), the networks' modes kept. A D that does not judge
    packs (any error, or not one output a pack) raises."""
    dis, was_training = nets.dis_training, nets.dis_training.training
    dis.eval()
    try:
        with paddle.no_grad():
            out = dis(paddle.zeros([2 * nets.packing, *nets.sample_shape]))
    finally:
        dis.train() if was_training else dis.eval()
    adversarial, classes = out if isinstance(out, (tuple, list)) else (out, None)
    if adversarial.shape[0] != 2:
        raise ValueError(f"{2 * nets.packing} samples in {nets.packing}s gave "
                         f"{adversarial.shape[0]} outputs, not one a pack")
    width = int(np.prod(adversarial.shape[1:]))
    return width, 0 if classes is None else int(np.prod(classes.shape[1:]))


def generate(generator: Generator, noise: np.ndarray, labels: Optional[np.ndarray] = None,
             chunk: int = 256) -> np.ndarray:
    """Samples for `noise` (and, for a conditional generator, `labels`) from the inference
    generator, in fixed-size chunks (so the same noise always gives the same bytes, whoever
    calls)."""
    parts = []
    with paddle.no_grad():
        for i in range(0, len(noise), chunk):
            extra = [] if labels is None else [paddle.to_tensor(labels[i : i + chunk])]
            parts.append(generator(paddle.to_tensor(noise[i : i + chunk]), *extra).numpy())
    return np.concatenate(parts)
