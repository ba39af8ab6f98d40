"""The compute of one GAN iteration: forward-only losses, then the picked network's update.

The trainer calls `forward(real, noise, labels, planned)`, which returns a `Forward`, and then,
with the scheduler's pick, `train(forward, decision)`: what the update reuses travels in that
value, nothing is kept on the step between the two. `forward` computes the objective's terms
(`paddle_gan.losses`: for v1 `d_real` on the real batch, `d_fake` on a generated one, `d = (d_real
+ d_fake) / 2` and `g`; for a conditional conf also `d_aux` and `g_aux`) as plain floats; when the
scheduler picked ahead (`planned`, `alternate`) only what that update needs runs: a G step computes
G's terms alone, without D's forward on the real batch, and a D step no graph into G. `train`
updates D (v1: two updates, on the fake batch and then the real one; the other losses: one on both,
plus their penalty) or G (one update), and returns what only the update computes (the penalty).
Choosing and syncing the networks afterwards are the trainer's job. A conditional step draws the
fake batch's labels uniformly from its seeded stream, as it draws G's extra noise batches
(`loss.g_batches`).

`GanStep` is the literal iteration (`execution: plain`, for debugging): the forwards of the
losses, then the update with forwards of its own, in Paddle's own layers. `FastStep`
(`execution: fast`, the default) computes the same numbers from one G and two D forwards that
the update reuses, and on the CPU its networks' convolutions run as `fast_conv` computes them
(equal up to float rounding). Both are registered execution paths (registry.EXECUTIONS).
With dropout in a conf (the AC-GAN's D) the two differ by design: the plain step's forwards run
in inference mode, the fast step's in training mode (its update reuses them), so its logged
losses are, as Keras reports them, those of the training forwards.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import paddle

from .errors import Diverged
from .fast_conv import use_fast_convolutions
from .losses import Judged, Objective, judged
from .networks import Networks, uses_batch_statistics
from .noise import RandomStream
from .roles import DIS, GEN

log = logging.getLogger(__name__)


def check_finite(losses: Dict[str, float]) -> None:
    for name, value in losses.items():
        if not math.isfinite(value):
            raise Diverged(name, value)


def _as_floats(terms: Dict[str, paddle.Tensor]) -> Dict[str, float]:
    values = paddle.stack([terms[name].reshape([]) for name in terms]).numpy()
    return {name: float(value) for name, value in zip(terms, values)}


def _apply(nets: Networks, network: str, loss) -> float:
    """Backward and update DIS or GEN on `loss`; its value."""
    loss.backward()
    nets.update(network)
    return float(loss)


@dataclass
class Forward:
    """What `forward` computed, for the scheduler (`losses`) and for `train` (the rest: the
    batch, the update it was planned for, and the tensors the update reuses, with their
    graphs; dropped with this value once the update is done)."""

    losses: Dict[str, float]
    batch: Batch
    planned: Optional[str] = None
    fake: Optional[paddle.Tensor] = None  # the fake batch D judges (no graph into G)
    fake_graph: Optional[paddle.Tensor] = None  # fast step: G's output, graph into G
    fake_out: Optional[Judged] = None  # fast step: D's outputs on `fake`, with their graph
    real_out: Optional[Judged] = None  # fast step, a loss updating D once: D on the real batch


@dataclass
class Batch:
    """One iteration's tensors; the labels only in a conditional run."""

    real: paddle.Tensor
    noise: paddle.Tensor
    real_labels: Optional[paddle.Tensor] = None
    fake_labels: Optional[paddle.Tensor] = None  # the classes G is asked for

    @property
    def gen_inputs(self) -> tuple:
        return (self.noise,) if self.fake_labels is None else (self.noise, self.fake_labels)


class GanStep:
    """The literal iteration: `forward(real, noise, labels)` -> losses, then `train(decision)`."""

    def __init__(self, nets: Networks, objective: Objective, rng: RandomStream):
        self.nets, self.objective, self.rng = nets, objective, rng
        self.loss = objective.loss
        self._inputs: Optional[Tuple[paddle.Tensor, paddle.Tensor]] = None  # refilled each time

    def to_device(self, real: np.ndarray, noise: np.ndarray, labels: Optional[np.ndarray] = None
                  ) -> Tuple[paddle.Tensor, paddle.Tensor, Optional[paddle.Tensor]]:
        """(real, noise, labels) as tensors on the device (labels None when not given). The
        same two float tensors are refilled every iteration (no graph outlives a step): a copy
        into their memory, without set_value's checks (the shapes match, the dtypes are
        float32), costs a fifth of new tensors."""
        if self._inputs is None or self._inputs[0].shape != list(real.shape):
            self._inputs = (paddle.to_tensor(real), paddle.to_tensor(noise))
            place = self._inputs[0].place
            self._place = (paddle.CUDAPlace(place.gpu_device_id()) if place.is_gpu_place()
                           else paddle.CPUPlace())
        else:
            self._inputs[0].get_tensor().set(real, self._place)
            self._inputs[1].get_tensor().set(noise, self._place)
        return (*self._inputs, None if labels is None else paddle.to_tensor(labels))

    def forward(self, real, noise, labels=None, planned: Optional[str] = None) -> Forward:
        """The forward-only losses of the batch (device tensors from `to_device`); with the
        update `planned` already (DIS or GEN), only the terms it can have: a G step's are G's."""
        batch = Batch(real, noise)
        if labels is not None:
            fake_labels = self.rng.labels(noise.shape[0], self.nets.num_classes)
            batch = Batch(real, noise, labels, paddle.to_tensor(fake_labels))
        with self.nets.compute_precision():
            forward = self._forward_losses(batch, planned)
        check_finite(forward.losses)
        return forward

    def train(self, forward: Forward, decision: str) -> Dict[str, float]:
        """Update the network the scheduler picked on the batch `forward` saw; the terms only
        the update computes (a penalty), if any."""
        if forward.planned not in (None, decision):
            raise ValueError(f"forward was run for a {forward.planned} step, not a {decision} "
                             "step")
        with self.nets.compute_precision():
            done = self._train_dis(forward) if decision == DIS else self._train_gen(forward)
        check_finite(done)
        return {name: value for name, value in done.items() if not name.endswith("_train")}

    def _mix(self, real) -> paddle.Tensor:
        """WGAN-GP's mixing weights, one per sample, from the step's seeded stream."""
        shape = (real.shape[0],) + (1,) * (len(real.shape) - 1)
        return paddle.to_tensor(self.rng.uniform(shape))

    def _penalised(self, d_loss, real, fake) -> Dict[str, paddle.Tensor]:
        """D's loss plus the loss's penalty, and the penalty as a term to log."""
        mix = self._mix(real) if self.loss.mixes else None
        penalty = self.loss.penalty(self.nets.dis_training, real, fake, mix)
        if penalty is None:
            return {"total": d_loss}
        return {"total": d_loss + penalty, "penalty": penalty}

    def _extra_gen_inputs(self, batch: Batch) -> tuple:
        """G's extra batches of noise (and classes), `loss.g_batches` - 1 of them, from the
        step's stream."""
        count = (self.objective.g_batches - 1) * batch.noise.shape[0]
        noise = paddle.to_tensor(self.rng.noise((count, batch.noise.shape[1])))
        if batch.fake_labels is None:
            return (noise,)
        return noise, paddle.to_tensor(self.rng.labels(count, self.nets.num_classes))

    def _forward_losses(self, batch: Batch, planned: Optional[str]) -> Forward:
        nets, objective = self.nets, self.objective
        nets.dis_training.eval()
        nets.gen_training.eval()
        with paddle.no_grad():
            if planned == GEN:  # G's update runs its own forwards
                return Forward(_as_floats(objective.g_terms(
                    judged(nets.gen_training(*batch.gen_inputs), batch.fake_labels))), batch,
                    planned)
            fake = nets.gen_training.gen(*batch.gen_inputs)  # the generator may be G's average
            terms = objective.terms(judged(nets.dis_training(batch.real), batch.real_labels),
                                    judged(nets.dis_training(fake), batch.fake_labels))
            terms.update(objective.g_terms(
                judged(nets.gen_training(*batch.gen_inputs), batch.fake_labels)))
        return Forward(objective.logged(_as_floats(terms)), batch, planned, fake)

    def _train_dis(self, forward: Forward) -> Dict[str, float]:
        nets, objective, fake, batch = self.nets, self.objective, forward.fake, forward.batch
        real = batch.real
        dis = nets.dis_training
        dis.train()
        if self.loss.apart:  # v1: one update on the fake batch, then one on the real batch
            fake_out = judged(dis(fake), batch.fake_labels)
            fake_loss = _apply(nets, DIS, objective.d_fake_loss(fake_out))
            real_out = judged(dis(real), batch.real_labels)
            update = self._penalised(objective.d_real_loss(real_out), real, None)
            return {"dis_train": (fake_loss + _apply(nets, DIS, update["total"])) / 2,
                    **_penalty(update)}
        real_out = judged(dis(real), batch.real_labels)  # real first: batch norm's running
        fake_out = judged(dis(fake), batch.fake_labels)  # statistics depend on the order
        update = self._penalised(objective.d_loss(real_out, fake_out), real, fake)
        return {"dis_train": _apply(nets, DIS, update["total"]), **_penalty(update)}

    def _train_gen(self, forward: Forward) -> Dict[str, float]:
        batch = forward.batch
        self.nets.gen_training.train()
        inputs = batch.gen_inputs
        if self.objective.g_batches > 1:  # one forward over all of G's batches
            extra = self._extra_gen_inputs(batch)
            inputs = tuple(paddle.concat([mine, more]) for mine, more in zip(inputs, extra))
        labels = inputs[1] if len(inputs) > 1 else None
        g = self.objective.g_loss(judged(self.nets.gen_training(*inputs), labels))
        return {"gen_train": _apply(self.nets, GEN, g)}


def _penalty(update: Dict[str, paddle.Tensor]) -> Dict[str, float]:
    return {"penalty": float(update["penalty"])} if "penalty" in update else {}


class FastStep(GanStep):
    """The same iteration with one G forward and two D forwards, reused by the update.

    It relies on v1's batch-norm rule (batch statistics always, see `uses_batch_statistics`):
    then a forward gives the same numbers in inference and training mode, and after every sync
    generator_training's D equals discriminator_training's. So the fake batch (generator_training's
    G output, in both steps: the `generator` may hold G's average) is judged once, `g` and the
    fake term come from the same outputs of D on it, and that forward (kept with its graph) is
    also D's forward on the fake batch in a D step, or the forward of a G step: its backward is
    taken straight away. D's forward on the real batch is kept too, for a loss that updates D
    once on both; v1, which updates D on the real batch after D changed, gives it a forward of
    its own. The gradient reaching G is taken at the fake batch and passed on through G's graph,
    exactly the chain rule through generator_training.
    """

    def _forward_losses(self, batch: Batch, planned: Optional[str]) -> Forward:
        nets = self.nets
        fake_graph = None
        if planned == DIS:  # the fake batch is only D's input: no graph into G, no gradient at it
            with paddle.no_grad():
                fake = nets.gen_training.gen(*batch.gen_inputs)
        else:
            fake_graph = nets.gen_training.gen(*batch.gen_inputs)  # graph into G, for a G step
            fake = fake_graph.detach()
            fake.stop_gradient = False  # where a G step's gradient is collected
        fake_out = judged(nets.dis_training(fake), batch.fake_labels)
        if planned == GEN:  # G's update needs D on the fake batch only
            with paddle.no_grad():
                losses = _as_floats(self.objective.g_terms(fake_out))
            return Forward(losses, batch, planned, fake, fake_graph, fake_out)
        real_out = None
        if self.loss.apart:
            with paddle.no_grad():
                judged_real = judged(nets.dis_training(batch.real), batch.real_labels)
        else:
            judged_real = real_out = judged(nets.dis_training(batch.real), batch.real_labels)
        with paddle.no_grad():
            terms = self.objective.terms(judged_real, fake_out)
        return Forward(self.objective.logged(_as_floats(terms)), batch, planned, fake,
                       fake_graph, fake_out, real_out)

    def _train_dis(self, forward: Forward) -> Dict[str, float]:
        nets, objective, batch = self.nets, self.objective, forward.batch
        real, fake_out = batch.real, forward.fake_out
        assert fake_out is not None  # this step's forward judges the fake batch every time
        if self.loss.apart:
            fake_loss = _apply(nets, DIS, objective.d_fake_loss(fake_out))
            real_out = judged(nets.dis_training(real), batch.real_labels)
            update = self._penalised(objective.d_real_loss(real_out), real, None)
            return {"dis_train": (fake_loss + _apply(nets, DIS, update["total"])) / 2,
                    **_penalty(update)}
        assert forward.real_out is not None  # judged by a forward for a D step (not apart)
        update = self._penalised(objective.d_loss(forward.real_out, fake_out), real,
                                 forward.fake)
        return {"dis_train": _apply(nets, DIS, update["total"]), **_penalty(update)}

    def _train_gen(self, forward: Forward) -> Dict[str, float]:
        nets, g_batches, batch = self.nets, self.objective.g_batches, forward.batch
        # a forward for a G step (not planned for D) keeps all three
        assert forward.fake_out is not None and forward.fake_graph is not None
        assert forward.fake is not None
        g = self.objective.g_loss(forward.fake_out)
        fakes, inputs = [forward.fake_graph], [forward.fake]
        if g_batches > 1:  # the extra batches' mean joins the forward's, weighted by size
            extra = self._extra_gen_inputs(batch)
            fakes.append(nets.gen_training.gen(*extra))
            inputs.append(fakes[-1].detach())
            inputs[-1].stop_gradient = False
            labels = extra[1] if len(extra) > 1 else None
            g_extra = self.objective.g_loss(judged(nets.dis_training(inputs[-1]), labels))
            g = (g + (g_batches - 1) * g_extra) / g_batches
        # Only the gradient at the fake batches: D's own weights get none (a G step leaves D be).
        for fake, grad in zip(fakes, paddle.grad(g, inputs)):
            fake.backward(grad)
        nets.update(GEN)
        return {"gen_train": float(g)}


def build_fast_step(nets: Networks, objective: Objective, rng: RandomStream) -> GanStep:
    """`execution: fast`, the default. It needs v1's batch-norm rule: a conf module with
    running-statistics batch norm gets the plain step, and the log says so. On the CPU the
    step's networks get the faster convolutions (the samples' `generator` keeps Paddle's, so
    pictures do not depend on the execution setting), unless the loss has a gradient penalty:
    its double backward has no op for their `unfold`."""
    if paddle.device.get_device() == "cpu":
        if objective.loss.needs_double_backward():
            log.info("execution: fast step with Paddle's own convolutions (the gradient penalty's "
                     "double backward has no op for the fast ones)")
        else:
            use_fast_convolutions(nets.gen_training)
            use_fast_convolutions(nets.dis_training)
    if not all(uses_batch_statistics(net) for net in (nets.gen_training, nets.dis_training)):
        log.info("execution: plain step (the fast one needs batch norm with batch statistics, "
                 "use_global_stats=False, in every layer of the conf module)")
        return GanStep(nets, objective, rng)
    return FastStep(nets, objective, rng)
