"""One GAN iteration: forward-only losses, the scheduler's pick, and that network's update.

This is the v1 iteration. With both networks in inference mode (v1's PASS_TEST) it computes
`d_real` (real batch, label 1), `d_fake` (generated batch, label 0), `d = (d_real + d_fake) / 2`
and `g` (generator_training on the same noise, label 1); the scheduler picks from `d` and `g`;
a D step is two updates, on the fake batch and then the real one, and a G step one update.
It returns plain floats; syncing the networks afterwards is the trainer's job.

`GanStep` is the literal v1 iteration (`execution: plain`, for debugging); `FastStep` computes
the same numbers with fewer operations (`execution: fast`, the default).
"""
from __future__ import annotations

import math
from typing import Dict

import numpy as np
import paddle
import paddle.nn.functional as F

from .networks import Networks
from .scheduler import DIS

REAL, FAKE = 1, 0


class Diverged(Exception):
    """A loss (or, found before a save, a parameter) became NaN or Inf."""

    def __init__(self, name: str, value, kind: str = "loss"):
        super().__init__(f"{kind} '{name}' is {value}")
        self.name, self.value = name, value


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
    """Callable: (real batch, noise) as numpy -> dict of floats plus the decision."""

    def __init__(self, nets: Networks, scheduler):
        self.nets, self.scheduler = nets, scheduler

    def forward_losses(self, real, noise):
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

    def train_dis(self, fake, real) -> float:
        """v1's D step: one update on the fake batch, then one on the real batch."""
        self.nets.dis_training.train()
        return (
            _update(self.nets.dis_training, self.nets.opt_d, fake, FAKE)
            + _update(self.nets.dis_training, self.nets.opt_d, real, REAL)
        ) / 2

    def train_gen(self, noise) -> float:
        self.nets.gen_training.train()
        return _update(self.nets.gen_training, self.nets.opt_g, noise, REAL)

    def __call__(self, real: np.ndarray, noise: np.ndarray) -> Dict[str, object]:
        real, noise = paddle.to_tensor(real), paddle.to_tensor(noise)
        fake, losses = self.forward_losses(real, noise)
        check_finite(losses)
        decision = self.scheduler.choose(losses["d"], losses["g"])
        trained = self.train_dis(fake, real) if decision == DIS else self.train_gen(noise)
        check_finite({f"{decision}_train": trained})
        return {**losses, "decision": decision}


def check_finite(losses: Dict[str, float]) -> None:
    for name, value in losses.items():
        if not math.isfinite(value):
            raise Diverged(name, value)


class FastStep(GanStep):
    """The same iteration with two forward passes instead of four, and one device-to-host copy.

    After every sync `generator` holds G's values and `generator_training`'s D holds D's, so the
    scheduler's losses need G once (the fake batch) and D once on real and fake stacked: in
    inference mode batch norm uses running statistics, so each row's logits do not depend on
    the rest of the batch, and `g` is the fake rows' loss against label 1.
    """

    def forward_losses(self, real, noise):
        nets, n = self.nets, real.shape[0]
        nets.dis_training.eval()
        with paddle.no_grad():
            fake = nets.generator(noise)
            log_p = F.log_softmax(nets.dis_training(paddle.concat([real, fake])), axis=1)
            losses = -paddle.stack(
                [log_p[:n, REAL].mean(), log_p[n:, FAKE].mean(), log_p[n:, REAL].mean()]
            )
        d_real, d_fake, g = (float(x) for x in losses.numpy())
        return fake, {"d_real": d_real, "d_fake": d_fake, "d": (d_real + d_fake) / 2, "g": g}


def build_step(nets: Networks, scheduler, execution: str = "fast") -> GanStep:
    """`fast` (default) or `plain` (the literal v1 iteration, for debugging)."""
    return (FastStep if execution == "fast" else GanStep)(nets, scheduler)
