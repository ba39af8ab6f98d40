"""The GAN losses, by name (`loss.name`, registered in paddle_gan.registry.LOSSES).

A loss turns D's outputs into what D and G minimise. `logits` is the number of outputs it needs
from D: v1's two-logit softmax, or one logit (a score) for the others; a conf whose D gives
another number is refused before training. `terms(real_out, fake_out)` are the forward terms
logged every step, always with "d" (what D minimises, before any penalty) and "g" (what G
minimises); `d_loss` and `g_loss` are the same as tensors for the updates. `comparable` says
whether "d" and "g" measure the same kind of thing, which v1's `loss_based` scheduler needs.
v1 trains D apart (`apart`): one update on the fake batch, then one on the real batch, as v1
did; the others update D once on both.

Penalties need D's gradient at its input, a double backward: `wgan_gp` adds lambda E[(||grad
D(x_hat)|| - 1)^2] at random points between the real and the fake batch (Gulrajani et al. 2017;
the mixing weights come from the step's seeded stream), and `loss.r1_gamma` adds R1, gamma/2
E[||grad D(x_real)||^2] (Mescheder et al. 2018), to the logistic losses. One-sided label
smoothing (`loss.real_label`, 0.9 say) is for the logistic losses too.

`Objective` is what the step minimises: the loss on D's real/fake outputs, plus for a
conditional conf (AC-GAN) the auxiliary class cross-entropy of D's class logits.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional

import paddle
import paddle.nn.functional as F

from .errors import ConfigError

REAL, FAKE = 1, 0  # v1's class indices


class Loss:
    """Base: a one-logit loss, D updated once on both batches, no penalty."""

    name = "loss"
    logits = 1
    comparable = True
    apart = False  # True: D's real and fake batches are two updates (v1)
    logistic = False  # label smoothing and R1 apply
    mixes = False  # its penalty needs mixing weights (WGAN-GP)

    def __init__(self, settings):
        self.real_label, self.r1_gamma = settings.real_label, settings.r1_gamma
        self.gp_lambda = settings.gp_lambda
        if not self.logistic and (self.real_label != 1.0 or self.r1_gamma):
            raise ConfigError(f"loss {self.name}: loss.real_label and loss.r1_gamma are for the "
                              "logistic losses (v1, minimax, non_saturating)")

    def terms(self, real_out, fake_out) -> Dict[str, paddle.Tensor]:
        raise NotImplementedError

    def logged(self, terms: Dict[str, float]) -> Dict[str, float]:
        """The terms as logged and seen by the scheduler, from `terms`' values."""
        return terms

    def d_loss(self, real_out, fake_out) -> paddle.Tensor:
        return self.terms(real_out, fake_out)["d"]

    def g_loss(self, fake_out) -> paddle.Tensor:
        raise NotImplementedError

    # An `apart` loss's D losses on each batch alone (the step calls them only when `apart`)
    def d_real_loss(self, real_out) -> paddle.Tensor:
        raise NotImplementedError

    def d_fake_loss(self, fake_out) -> paddle.Tensor:
        raise NotImplementedError

    @staticmethod
    def score(out) -> paddle.Tensor:
        """D's score of each sample, [N]: the one logit (v1: the real logit minus the fake)."""
        return out[:, 0]

    def needs_double_backward(self) -> bool:
        return bool(self.r1_gamma)

    def penalty(self, dis, real, fake, mix: Optional[paddle.Tensor]) -> Optional[paddle.Tensor]:
        """What D's update adds to its loss (None: nothing); `mix` are WGAN-GP's weights."""
        if not self.r1_gamma:
            return None
        return self.r1_gamma / 2 * (input_gradient(dis, real, self.score) ** 2).sum(1).mean()


def input_gradient(dis, inputs, score) -> paddle.Tensor:
    """d score(D(x)) / dx for each of D's judgements, flattened to [scores, features], with its
    graph (so a penalty of it can be minimised: a double backward). A packed D judges m samples
    at once, and the m consecutive samples of a pack are its input: a row is a pack's."""
    inputs = inputs.detach()
    inputs.stop_gradient = False
    scores = score(adversarial(dis(inputs)))
    (grad,) = paddle.grad(scores.sum(), [inputs], create_graph=True)
    return grad.reshape([scores.shape[0], -1])


class V1(Loss):
    """The v1 demo's: a two-logit softmax, cross-entropy against real (1) and fake (0)."""

    name, logits, apart, logistic = "v1", 2, True, True

    def _cross_entropy(self, out, label: int, smoothed: bool = False) -> paddle.Tensor:
        if not smoothed or self.real_label == 1.0:
            labels = paddle.full([out.shape[0], 1], label, dtype="int64")
            return F.cross_entropy(out, labels)
        log_p = F.log_softmax(out, axis=1)
        t = self.real_label
        return -(t * log_p[:, REAL] + (1 - t) * log_p[:, FAKE]).mean()

    def d_real_loss(self, real_out) -> paddle.Tensor:
        return self._cross_entropy(real_out, REAL, smoothed=True)

    def d_fake_loss(self, fake_out) -> paddle.Tensor:
        return self._cross_entropy(fake_out, FAKE)

    def _log_p(self, out, column: int) -> paddle.Tensor:
        return F.log_softmax(out, axis=1)[:, column].mean()

    def terms(self, real_out, fake_out):
        if self.real_label == 1.0:  # as v1's runs have always logged them, bit for bit
            d_real = -self._log_p(real_out, REAL)
        else:
            d_real = self.d_real_loss(real_out)
        return {"d_real": d_real, "d_fake": -self._log_p(fake_out, FAKE),
                "g": -self._log_p(fake_out, REAL)}

    def logged(self, terms):
        d_real, d_fake = terms["d_real"], terms["d_fake"]
        return {"d_real": d_real, "d_fake": d_fake, "d": (d_real + d_fake) / 2, "g": terms["g"]}

    def d_loss(self, real_out, fake_out):
        return (self.d_real_loss(real_out) + self.d_fake_loss(fake_out)) / 2

    def g_loss(self, fake_out):
        return self._cross_entropy(fake_out, REAL)

    @staticmethod
    def score(out):
        return out[:, REAL] - out[:, FAKE]


class Minimax(Loss):
    """Goodfellow et al. 2014 as written: D maximises log D(x) + log(1 - D(G(z))), G minimises
    log(1 - D(G(z))) (saturating: G's gradient vanishes while D wins)."""

    name, logistic = "minimax", True

    def terms(self, real_out, fake_out):
        r, f = real_out[:, 0], fake_out[:, 0]
        t = self.real_label
        d_real = (t * F.softplus(-r) + (1 - t) * F.softplus(r)).mean()  # -log D(x), smoothed
        d_fake = F.softplus(f).mean()  # -log(1 - D(G(z)))
        return {"d_real": d_real, "d_fake": d_fake, "d": d_real + d_fake,
                "g": self.g_loss(fake_out)}

    def g_loss(self, fake_out):
        return -F.softplus(fake_out[:, 0]).mean()  # log(1 - D(G(z)))


class NonSaturating(Minimax):
    """The same D; G minimises -log D(G(z)) instead, which does not saturate."""

    name = "non_saturating"

    def g_loss(self, fake_out):
        return F.softplus(-fake_out[:, 0]).mean()


class LeastSquares(Loss):
    """LSGAN (Mao et al. 2017, targets a=0, b=c=1): D minimises (D(x)-1)^2/2 + D(G(z))^2/2, G
    minimises (D(G(z))-1)^2/2, on D's raw score."""

    name = "lsgan"

    def terms(self, real_out, fake_out):
        r, f = real_out[:, 0], fake_out[:, 0]
        d_real, d_fake = 0.5 * ((r - 1) ** 2).mean(), 0.5 * (f**2).mean()
        return {"d_real": d_real, "d_fake": d_fake, "d": d_real + d_fake,
                "g": self.g_loss(fake_out)}

    def g_loss(self, fake_out):
        return 0.5 * ((fake_out[:, 0] - 1) ** 2).mean()


class Hinge(Loss):
    """The hinge loss (Lim & Ye 2017, SAGAN): D minimises relu(1 - D(x)) + relu(1 + D(G(z))), G
    minimises -D(G(z)). D's and G's losses are not comparable."""

    name, comparable = "hinge", False

    def terms(self, real_out, fake_out):
        r, f = real_out[:, 0], fake_out[:, 0]
        d_real, d_fake = F.relu(1 - r).mean(), F.relu(1 + f).mean()
        return {"d_real": d_real, "d_fake": d_fake, "d": d_real + d_fake,
                "g": self.g_loss(fake_out)}

    def g_loss(self, fake_out):
        return -fake_out[:, 0].mean()


class WassersteinGP(Loss):
    """WGAN-GP (Gulrajani et al. 2017): the critic minimises D(G(z)) - D(x) plus the gradient
    penalty, G minimises -D(G(z)); logged: the critic's scores, the Wasserstein estimate D(x) -
    D(G(z)), and on critic steps the penalty. Not comparable; WGAN trains the critic 5 times
    for each G update (`scheduler.name: alternate`, `scheduler.d_steps: 5`)."""

    name, comparable, mixes = "wgan_gp", False, True

    def terms(self, real_out, fake_out):
        critic_real, critic_fake = real_out[:, 0].mean(), fake_out[:, 0].mean()
        return {"critic_real": critic_real, "critic_fake": critic_fake,
                "wasserstein": critic_real - critic_fake, "d": critic_fake - critic_real,
                "g": self.g_loss(fake_out)}

    def g_loss(self, fake_out):
        return -fake_out[:, 0].mean()

    def needs_double_backward(self) -> bool:
        return self.gp_lambda > 0

    def penalty(self, dis, real, fake, mix):
        if not self.gp_lambda:
            return None
        between = mix * real.detach() + (1 - mix) * fake.detach()
        # +1e-12: the norm's gradient is finite where the input gradient is 0
        norms = ((input_gradient(dis, between, self.score) ** 2).sum(1) + 1e-12).sqrt()
        return self.gp_lambda * ((norms - 1) ** 2).mean()


# --- conditional GANs ----------------------------------------------------------------------------

def adversarial(out):
    """D's real/fake outputs: all of an unconditional D's, the first of a conditional D's pair."""
    return out[0] if isinstance(out, (tuple, list)) else out


class Judged(NamedTuple):
    """D's outputs on one batch: the real/fake outputs and, for a conditional conf, the class
    logits and the labels the batch has (real) or was generated for (fake)."""

    adv: paddle.Tensor
    classes: Optional[paddle.Tensor] = None
    labels: Optional[paddle.Tensor] = None


def judged(out, labels: Optional[paddle.Tensor] = None) -> Judged:
    """D's output (a tensor, or a conditional D's (outputs, class logits)) with the labels."""
    if isinstance(out, (tuple, list)):
        return Judged(out[0], out[1], labels)
    return Judged(out)


class Objective:
    """What the step minimises. Unconditional: the loss, nothing added. Conditional (AC-GAN,
    Odena et al. 2017): plus `aux_weight` times the class cross-entropy, on the real and on the
    fake batch for D (`d_aux`, their sum, as `d` sums the two batches' terms) and on the fake
    batch for G (`g_aux`). The scheduler still compares the adversarial `d` and `g`. G's loss is
    taken over `g_batches` batches of noise (the step draws the extra ones)."""

    def __init__(self, loss: Loss, aux_weight: float = 1.0, g_batches: int = 1):
        self.loss, self.aux_weight, self.g_batches = loss, aux_weight, g_batches

    @staticmethod
    def class_loss(out: Judged) -> paddle.Tensor:
        assert out.classes is not None and out.labels is not None  # a conditional D's, labelled
        return F.cross_entropy(out.classes, out.labels.reshape([-1, 1]))

    def _plus_aux(self, loss: paddle.Tensor, *outs: Judged) -> paddle.Tensor:
        if outs[0].classes is None:
            return loss
        return loss + self.aux_weight * sum(self.class_loss(out) for out in outs)

    def g_terms(self, fake: Judged) -> Dict[str, paddle.Tensor]:
        terms = {"g": self.loss.g_loss(fake.adv)}
        if fake.classes is not None:
            terms["g_aux"] = self.class_loss(fake)
        return terms

    def terms(self, real: Judged, fake: Judged) -> Dict[str, paddle.Tensor]:
        terms = self.loss.terms(real.adv, fake.adv)
        if fake.classes is not None:
            terms["d_aux"] = self.class_loss(real) + self.class_loss(fake)
            terms.update(self.g_terms(fake))
        return terms

    def logged(self, values: Dict[str, float]) -> Dict[str, float]:
        aux: Dict[str, float] = {name: values[name] for name in ("d_aux", "g_aux")
                                 if name in values}
        return {**self.loss.logged(values), **aux}

    def d_loss(self, real: Judged, fake: Judged) -> paddle.Tensor:
        return self._plus_aux(self.loss.d_loss(real.adv, fake.adv), real, fake)

    def d_real_loss(self, real: Judged) -> paddle.Tensor:
        return self._plus_aux(self.loss.d_real_loss(real.adv), real)

    def d_fake_loss(self, fake: Judged) -> paddle.Tensor:
        return self._plus_aux(self.loss.d_fake_loss(fake.adv), fake)

    def g_loss(self, fake: Judged) -> paddle.Tensor:
        return self._plus_aux(self.loss.g_loss(fake.adv), fake)
