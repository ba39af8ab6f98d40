"""The losses: each one's terms against its formula in NumPy, the gradient penalty against a
finite-difference gradient, a WGAN-GP step that changes D and not G, the fast step equal to the
plain one for every loss, and the one-line refusals (a loss the conf's D cannot serve, a
scheduler the loss makes meaningless, smoothing or R1 on a loss without them)."""
import numpy as np
import paddle
import pytest

from paddle_gan.cli.train import main
from paddle_gan.config import LossSettings
from paddle_gan.errors import ConfigError
from paddle_gan.losses import (
    V1,
    Hinge,
    LeastSquares,
    Minimax,
    NonSaturating,
    Objective,
    WassersteinGP,
    input_gradient,
    judged,
)
from paddle_gan.registry import LOSSES
from tests.helpers import step_once, tensors, tiny_state

rng = np.random.default_rng(0)
REAL_OUT, FAKE_OUT = rng.normal(size=(7, 1)), rng.normal(size=(7, 1))


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def values(loss, real=REAL_OUT, fake=FAKE_OUT):
    terms = loss.terms(paddle.to_tensor(real), paddle.to_tensor(fake))
    terms["g_loss"] = loss.g_loss(paddle.to_tensor(fake))
    return {name: float(value) for name, value in terms.items()}


@pytest.mark.parametrize("cls, d_real, d_fake, g", [
    (Minimax, softplus(-REAL_OUT).mean(), softplus(FAKE_OUT).mean(), -softplus(FAKE_OUT).mean()),
    (NonSaturating, softplus(-REAL_OUT).mean(), softplus(FAKE_OUT).mean(),
     softplus(-FAKE_OUT).mean()),
    (LeastSquares, 0.5 * ((REAL_OUT - 1) ** 2).mean(), 0.5 * (FAKE_OUT**2).mean(),
     0.5 * ((FAKE_OUT - 1) ** 2).mean()),
    (Hinge, np.maximum(0, 1 - REAL_OUT).mean(), np.maximum(0, 1 + FAKE_OUT).mean(),
     -FAKE_OUT.mean()),
])
def test_one_logit_losses_follow_their_formulas(cls, d_real, d_fake, g):
    got = values(cls(LossSettings()))
    assert got["d_real"] == pytest.approx(d_real, rel=1e-6)
    assert got["d_fake"] == pytest.approx(d_fake, rel=1e-6)
    assert got["d"] == pytest.approx(d_real + d_fake, rel=1e-6)
    assert got["g"] == got["g_loss"] == pytest.approx(g, rel=1e-6)


def test_wgan_terms_are_the_critic_scores_and_their_difference():
    got = values(WassersteinGP(LossSettings()))
    assert got["critic_real"] == pytest.approx(REAL_OUT.mean())
    assert got["critic_fake"] == pytest.approx(FAKE_OUT.mean())
    assert got["wasserstein"] == pytest.approx(REAL_OUT.mean() - FAKE_OUT.mean())
    assert got["d"] == pytest.approx(-got["wasserstein"]) and got["g"] == pytest.approx(
        -FAKE_OUT.mean())


def test_v1_is_softmax_cross_entropy_and_label_smoothing_is_one_sided():
    real, fake = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))

    def log_p(x):
        return x - np.log(np.exp(x).sum(1, keepdims=True))

    got = V1(LossSettings()).logged({k: float(v) for k, v in V1(LossSettings()).terms(
        paddle.to_tensor(real), paddle.to_tensor(fake)).items()})
    assert got["d_real"] == pytest.approx(-log_p(real)[:, 1].mean(), rel=1e-6)
    assert got["d_fake"] == pytest.approx(-log_p(fake)[:, 0].mean(), rel=1e-6)
    assert got["d"] == pytest.approx((got["d_real"] + got["d_fake"]) / 2)
    smooth = V1(LossSettings(real_label=0.9))
    assert float(smooth.d_real_loss(paddle.to_tensor(real))) == pytest.approx(
        -(0.9 * log_p(real)[:, 1] + 0.1 * log_p(real)[:, 0]).mean(), rel=1e-6)
    # only the real label is smoothed: the fake and G's targets are untouched
    assert float(smooth.d_fake_loss(paddle.to_tensor(fake))) == pytest.approx(got["d_fake"])
    logistic = NonSaturating(LossSettings(real_label=0.9))
    assert values(logistic)["d_real"] == pytest.approx(
        (0.9 * softplus(-REAL_OUT) + 0.1 * softplus(REAL_OUT)).mean(), rel=1e-6)


class TinyCritic(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.a, self.b = paddle.nn.Linear(2, 3), paddle.nn.Linear(3, 1)

    def forward(self, x):
        return self.b(paddle.tanh(self.a(x)))


def test_the_gradient_penalty_has_the_finite_difference_gradient():
    paddle.set_default_dtype("float64")
    try:
        paddle.seed(1)
        critic = TinyCritic()
        real, fake = paddle.to_tensor(rng.normal(size=(4, 2))), paddle.to_tensor(
            rng.normal(size=(4, 2)))
        mix = paddle.to_tensor(rng.random((4, 1)))
        loss = WassersteinGP(LossSettings(gp_lambda=10.0))
        penalty = loss.penalty(critic, real, fake, mix)
        penalty.backward()  # the double backward
        weight = critic.a.weight
        analytic = weight.grad.numpy().copy()
        numeric = np.zeros_like(analytic)
        base = weight.numpy().copy()
        for i in range(base.shape[0]):
            for j in range(base.shape[1]):
                for sign in (1, -1):
                    shifted = base.copy()
                    shifted[i, j] += sign * 1e-6
                    weight.set_value(shifted)
                    numeric[i, j] += sign * float(loss.penalty(critic, real, fake, mix)) / 2e-6
        weight.set_value(base)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
        # and the gradient it penalises is the input gradient of the critic's score
        x = paddle.to_tensor(rng.normal(size=(3, 2)))
        grad = input_gradient(critic, x, loss.score).numpy()
        eps = 1e-6
        for k in range(2):
            step = np.zeros((3, 2))
            step[:, k] = eps
            up = critic(x + paddle.to_tensor(step))[:, 0].numpy()
            down = critic(x - paddle.to_tensor(step))[:, 0].numpy()
            np.testing.assert_allclose(grad[:, k], (up - down) / (2 * eps), rtol=1e-5)
    finally:
        paddle.set_default_dtype("float32")


def wgan_state(tmp_path, **extra):
    sets = ["loss.name=wgan_gp", "scheduler.name=alternate", "scheduler.d_steps=2",
            *[f"{k}={v}" for k, v in extra.items()]]
    return tiny_state(tmp_path, passes=1, iters=6, sets=sets)


def test_a_wgan_gp_step_changes_d_and_not_g_and_logs_its_terms(tmp_path):
    state = wgan_state(tmp_path)
    before = tensors(state)
    assert step_once(state) == "dis"
    after = tensors(state)
    changed = {name for name in before if not np.array_equal(before[name], after[name])}
    assert changed and all("dis." in name for name in changed)
    assert any(name.startswith("dis_training/dis.") for name in changed)
    assert {"critic_real", "critic_fake", "wasserstein", "penalty", "d", "g"} <= set(
        state.result.losses)
    assert state.result.losses["penalty"] > 0
    step_once(state)
    critic_terms = dict(state.result.losses)
    # alternate picks ahead: a G step computes G's term only, the critic's stay the last D step's
    assert step_once(state) == "gen"
    assert state.result.losses["g"] != critic_terms["g"]
    assert {**state.result.losses, "g": critic_terms["g"]} == critic_terms


@pytest.mark.parametrize("loss", ["minimax", "non_saturating", "lsgan", "hinge", "wgan_gp",
                                  "non_saturating+r1"])
def test_the_fast_step_computes_what_the_plain_one_does(tmp_path, loss):
    name, _, r1 = loss.partition("+")
    sets = [f"loss.name={name}", "scheduler.name=alternate", "data_size=2048",
            "batch_size=32"] + (["loss.r1_gamma=5"] if r1 else [])
    runs = {}
    for execution in ("plain", "fast"):
        state = tiny_state(tmp_path / execution, iters=12, sets=sets + [f"execution={execution}"])
        history = [(step_once(state), dict(state.result.losses)) for _ in range(12)]
        runs[execution] = (history, tensors(state))
    (plain, plain_params), (fast, fast_params) = runs["plain"], runs["fast"]
    assert [d for d, _ in plain] == [d for d, _ in fast]
    for (_, a), (_, b) in zip(plain, fast):
        assert a.keys() == b.keys()
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), key
    for key, value in plain_params.items():
        np.testing.assert_allclose(fast_params[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("sets, says", [
    (["loss.name=wgan_gp"], "scheduler loss_based compares D's and G's losses, which loss "
                            "wgan_gp does not make comparable; use --set scheduler.name=alternate"),
    (["loss.name=hinge"], "which loss hinge does not make comparable"),
    (["loss.name=wasserstein"], "unknown loss 'wasserstein'"),
    (["loss.name=lsgan", "loss.real_label=0.9", "scheduler.name=alternate"],
     "loss.real_label and loss.r1_gamma are for the logistic losses"),
    (["loss.gp_lambda=-1"], "loss.gp_lambda must be at least 0.0"),
    (["loss.r1_gamma=-0.5"], "loss.r1_gamma must be at least 0.0"),
    (["optimizer.name=adamw"], "unknown optimiser 'adamw' (did you mean 'adam'?)"),
    (["optimizer_d.name=rmsprob"], "unknown optimiser 'rmsprob' (did you mean 'rmsprop'?)"),
    (["noise=gaussian"], "noise must be one of normal, uniform"),
])
def test_bad_loss_and_optimiser_settings_are_one_line(tmp_path, capsys, sets, says):
    argv = ["-d", "uniform", "--output_dir", str(tmp_path), "--set", "data_size=256"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_a_loss_the_conf_cannot_serve_names_both(tmp_path, capsys):
    mlp = ["--config", "conf/mnist_mlp.yaml", "--set", "loss.name=v1", "--output_dir",
           str(tmp_path), "--set", "data_dir=/nonexistent"]
    assert main(mlp) == 2  # the data is checked first: give it a tiny MNIST
    capsys.readouterr()
    from tests.helpers import tiny_mnist

    data = tiny_mnist(tmp_path / "mnist")
    assert main(mlp[:-2] + ["--set", f"data_dir={data}", "--set", "scheduler.name=loss_based"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: loss v1 needs a discriminator with 2 output(s) a sample; "
                   "conf/mlp_gan.py's gives 1"]


def test_every_registered_loss_is_one_of_these():
    assert set(LOSSES.names()) == {"v1", "minimax", "non_saturating", "lsgan", "hinge", "wgan_gp"}
    for name in LOSSES.names():
        loss = LOSSES.get(name)(LossSettings())
        assert loss.name == name and loss.logits in (1, 2)
    with pytest.raises(ConfigError):
        Hinge(LossSettings(r1_gamma=1.0))


def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def test_the_objective_adds_the_class_cross_entropy_with_its_weight():
    classes_real, classes_fake = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    labels_real, labels_fake = rng.integers(0, 4, 7), rng.integers(0, 4, 7)
    real = judged((paddle.to_tensor(REAL_OUT), paddle.to_tensor(classes_real)),
                  paddle.to_tensor(labels_real))
    fake = judged((paddle.to_tensor(FAKE_OUT), paddle.to_tensor(classes_fake)),
                  paddle.to_tensor(labels_fake))
    ce_real = -log_softmax(classes_real)[np.arange(7), labels_real].mean()
    ce_fake = -log_softmax(classes_fake)[np.arange(7), labels_fake].mean()
    loss = NonSaturating(LossSettings())
    objective = Objective(loss, aux_weight=0.5)
    terms = {name: float(value) for name, value in objective.terms(real, fake).items()}
    adversarial = values(loss)
    assert terms["d_aux"] == pytest.approx(ce_real + ce_fake, rel=1e-5)
    assert terms["g_aux"] == pytest.approx(ce_fake, rel=1e-5)
    assert terms["d"] == pytest.approx(adversarial["d"], rel=1e-6)  # what the scheduler compares
    assert float(objective.d_loss(real, fake)) == pytest.approx(
        adversarial["d"] + 0.5 * (ce_real + ce_fake), rel=1e-5)
    assert float(objective.g_loss(fake)) == pytest.approx(
        adversarial["g_loss"] + 0.5 * ce_fake, rel=1e-5)
    v1 = Objective(V1(LossSettings()), aux_weight=2.0)  # D apart: each batch its own class term
    two = (paddle.to_tensor(np.hstack([FAKE_OUT, -FAKE_OUT])), paddle.to_tensor(classes_fake))
    fake_v1 = judged(two, paddle.to_tensor(labels_fake))
    assert float(v1.d_fake_loss(fake_v1)) == pytest.approx(
        float(V1(LossSettings()).d_fake_loss(two[0])) + 2 * ce_fake, rel=1e-5)


def test_an_unconditional_objective_is_the_loss_itself():
    loss = Minimax(LossSettings())
    objective = Objective(loss, aux_weight=3.0)
    real, fake = judged(paddle.to_tensor(REAL_OUT)), judged(paddle.to_tensor(FAKE_OUT))
    assert {k: float(v) for k, v in objective.terms(real, fake).items()} == {
        k: v for k, v in values(loss).items() if k != "g_loss"}
    assert float(objective.d_loss(real, fake)) == float(loss.d_loss(real.adv, fake.adv))
    assert float(objective.g_loss(fake)) == values(loss)["g_loss"]
