"""The compute of one GAN iteration: forward-only losses, then the picked network's update.

This is the v1 iteration, in two calls the trainer makes around the scheduler's pick. `forward`
computes `d_real` (real batch, label 1), `d_fake` (generated batch, label 0),
`d = (d_real + d_fake) / 2` and `g` (generator_training on the same noise, label 1) as plain
floats; `train(decision)` then updates D (two updates, on the fake batch and then the real one)
or G (one update). Choosing and syncing the networks afterwards are the trainer's job.

`GanStep` is the literal v1 iteration (`execution: plain`, for debugging): four forwards, then
the update with forwards of its own, in Paddle's own layers. `FastStep` (`execution: fast`, the
default) computes the same numbers from one G and two D forwards that the update reuses, and on
the CPU its networks' convolutions run as `fast_conv` computes them (equal up to float rounding).
Both are registered execution paths (paddle_gan.registry.EXECUTIONS).
"""
from __future__ import annotations

import logging
import math
from typing import Dict

import numpy as np
import paddle
import paddle.nn.functional as F

from .errors import Diverged
from .fast_conv import use_fast_convolutions
from .networks import Networks, uses_batch_statistics
from .state import DIS

log = logging.getLogger("paddle_gan")
REAL, FAKE = 1, 0


def _loss(logits, label: int):
    labels = paddle.full([logits.shape[0], 1], label, dtype="int64")
    return F.cross_entropy(logits, labels)


def _update(network, optimizer, inputs, label: int) -> float:
    loss = _loss(network(inputs), label)
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    return float(loss)


class GanStep:
    """The literal v1 iteration: `forward(real, noise)` -> losses, then `train(decision)`."""

    def __init__(self, nets: Networks):
        self.nets = nets
        self._inputs = None
        self._pending = None  # what forward leaves for train: (fake, real, noise)

    def to_device(self, real: np.ndarray, noise: np.ndarray):
        """The batch as tensors on the device. The same two tensors are refilled every
        iteration (no graph outlives a step): a copy into their memory, without set_value's
        checks (the shapes match, the dtypes are float32), costs a fifth of new tensors."""
        if self._inputs is None or self._inputs[0].shape != list(real.shape):
            self._inputs = (paddle.to_tensor(real), paddle.to_tensor(noise))
            place = self._inputs[0].place
            self._place = (paddle.CUDAPlace(place.gpu_device_id()) if place.is_gpu_place()
                           else paddle.CPUPlace())
        else:
            self._inputs[0].get_tensor().set(real, self._place)
            self._inputs[1].get_tensor().set(noise, self._place)
        return self._inputs

    def forward(self, real, noise) -> Dict[str, float]:
        """The forward-only losses of the batch (device tensors from `to_device`)."""
        fake, losses = self._forward_losses(real, noise)
        check_finite(losses)
        self._pending = (fake, real, noise)
        return losses

    def train(self, decision: str) -> float:
        """Update the network the scheduler picked on the batch `forward` saw; its loss."""
        fake, real, noise = self._pending
        try:
            trained = self._train_dis(fake, real) if decision == DIS else self._train_gen(noise)
        finally:
            self._release()
        check_finite({f"{decision}_train": trained})
        return trained

    def _release(self) -> None:
        self._pending = None

    def _forward_losses(self, real, noise):
        nets = self.nets
        nets.dis_training.eval()
        nets.gen_training.eval()
        with paddle.no_grad():
            fake = nets.generator(noise)
            d_real = _loss(nets.dis_training(real), REAL)
            d_fake = _loss(nets.dis_training(fake), FAKE)
            g = _loss(nets.gen_training(noise), REAL)
        d_real, d_fake, g = (float(x) for x in (d_real, d_fake, g))
        return fake, {"d_real": d_real, "d_fake": d_fake, "d": (d_real + d_fake) / 2, "g": g}

    def _train_dis(self, fake, real) -> float:
        """v1's D step: one update on the fake batch, then one on the real batch."""
        self.nets.dis_training.train()
        return (
            _update(self.nets.dis_training, self.nets.opt_d, fake, FAKE)
            + _update(self.nets.dis_training, self.nets.opt_d, real, REAL)
        ) / 2

    def _train_gen(self, noise) -> float:
        self.nets.gen_training.train()
        return _update(self.nets.gen_training, self.nets.opt_g, noise, REAL)


def check_finite(losses: Dict[str, float]) -> None:
    for name, value in losses.items():
        if not math.isfinite(value):
            raise Diverged(name, value)


class FastStep(GanStep):
    """The same iteration with one G forward and two D forwards, reused by the update.

    It relies on v1's batch-norm rule (batch statistics always, see `uses_batch_statistics`):
    then a forward gives the same numbers in inference and training mode, and after every sync
    `generator` equals generator_training's G and generator_training's D equals
    discriminator_training's. So the fake batch is generator_training's G output, `g` and
    `d_fake` come from the same logits of D on it, and that forward (kept with its graph) is
    also the first forward of a D step or the forward of a G step: its backward is taken
    straight away. Only the D step's update on the real batch, which comes after D changed,
    needs a forward of its own. The gradient reaching G is taken at the fake batch and passed
    on through G's graph, exactly the chain rule through generator_training.
    """

    def _forward_losses(self, real, noise):
        nets = self.nets
        self._fake = nets.gen_training.gen(noise)  # graph into G, for a G step
        self._fake_input = self._fake.detach()
        self._fake_input.stop_gradient = False  # where a G step's gradient is collected
        self._fake_logits = nets.dis_training(self._fake_input)  # graph into D
        with paddle.no_grad():
            real_logits = nets.dis_training(real)
            log_p = F.log_softmax(paddle.concat([real_logits, self._fake_logits]), axis=1)
            n = real.shape[0]
            losses = -paddle.stack(
                [log_p[:n, REAL].mean(), log_p[n:, FAKE].mean(), log_p[n:, REAL].mean()]
            )
        d_real, d_fake, g = (float(x) for x in losses.numpy())
        return self._fake_input, {"d_real": d_real, "d_fake": d_fake, "d": (d_real + d_fake) / 2,
                                  "g": g}

    def _train_dis(self, fake, real) -> float:
        nets = self.nets
        fake_loss = _loss(self._fake_logits, FAKE)
        fake_loss.backward()
        nets.opt_d.step()
        nets.opt_d.clear_grad()
        return (float(fake_loss) + _update(nets.dis_training, nets.opt_d, real, REAL)) / 2

    def _train_gen(self, noise) -> float:
        nets = self.nets
        loss = _loss(self._fake_logits, REAL)
        # Only the gradient at the fake batch: D's own weights get none (a G step leaves D be).
        (fake_grad,) = paddle.grad(loss, [self._fake_input])
        self._fake.backward(fake_grad)
        nets.opt_g.step()
        nets.opt_g.clear_grad()
        return float(loss)

    def _release(self) -> None:
        super()._release()
        self._fake = self._fake_input = self._fake_logits = None  # free the graphs


def build_fast_step(nets: Networks) -> GanStep:
    """`execution: fast`, the default. It needs v1's batch-norm rule: a conf module with
    running-statistics batch norm gets the plain step, and the log says so. On the CPU the
    step's networks get the faster convolutions (the samples' `generator` keeps Paddle's, so
    pictures do not depend on the execution setting)."""
    if paddle.device.get_device() == "cpu":
        use_fast_convolutions(nets.gen_training)
        use_fast_convolutions(nets.dis_training)
    if not all(uses_batch_statistics(net) for net in (nets.gen_training, nets.dis_training)):
        log.info("execution: plain step (the fast one needs batch norm with batch statistics, "
                 "use_global_stats=False, in every layer of the conf module)")
        return GanStep(nets)
    return FastStep(nets)
