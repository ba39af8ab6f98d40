"""Conditional GANs end to end, on a tiny AC-GAN-shaped conf and tiny MNIST files: labels reach
every network and the loss, the fast and plain steps agree, a stopped run resumes bitwise (with
dropout), the picture has a row per class, the tools take classes, and bad input is one line
with exit 2.
"""
import numpy as np
import paddle
import pytest

from paddle_gan.checkpoint.files import load_checkpoint
from paddle_gan.checkpoint.reader import open_checkpoint
from paddle_gan.cli.generate import main as generate_main
from paddle_gan.cli.train import main
from paddle_gan.export import export_generator
from paddle_gan.networks import generate
from paddle_gan.noise import sample_noise
from paddle_gan.run import build_state
from tests.helpers import (
    EVENTS,
    assert_same_train_state,
    conditional_conf,
    conditional_settings,
    newest,
    step_once,
    tensors,
    tiny_mnist,
)

PADDLE_2 = paddle.__version__.startswith("2.")


@pytest.fixture
def mnist(tmp_path):
    return tiny_mnist(tmp_path / "mnist", count=40)


def cli(conf, data_dir, out, *extra, passes=2, iters=5, plugins="[checkpoint, resume_probe]"):
    return main(["-d", "mnist", "--num_passes", str(passes), "--iters_per_pass", str(iters),
                 "--batch_size", "8", "--set", f"conf={conf}", "--set", f"data_dir={data_dir}",
                 "--set", "scheduler.name=alternate",
                 "--set", f"plugins={plugins}", "--output_dir", str(out), *extra])


def test_the_losses_carry_the_auxiliary_terms_and_the_scheduler_the_adversarial(tmp_path, mnist):
    conf = conditional_conf(tmp_path / "c.py")
    state = build_state(conditional_settings(conf, mnist, "scheduler.name=loss_based"), tmp_path)
    assert state.nets.num_classes == 10
    compared = []
    choose = state.scheduler.choose
    state.scheduler.choose = lambda d, g: compared.append((d, g)) or choose(d, g)
    for _ in range(4):
        step_once(state)
        losses = state.result.losses
        assert {"d", "g", "d_aux", "g_aux"} <= set(losses)
        # untrained class logits near uniform: cross-entropy near ln 10 (twice for D: real + fake)
        assert losses["g_aux"] == pytest.approx(np.log(10), abs=0.3)
        assert losses["d_aux"] == pytest.approx(2 * np.log(10), abs=0.6)
        assert losses["d"] == pytest.approx(losses["d_real"] + losses["d_fake"], rel=1e-6)
        assert compared[-1] == (losses["d"], losses["g"])  # the adversarial terms alone


def test_the_real_labels_are_the_batch_s_own(tmp_path, mnist):
    state = build_state(conditional_settings(conditional_conf(tmp_path / "c.py"), mnist), tmp_path)
    seen = []
    to_device = state.step.to_device

    def spy(real, noise, labels):
        seen.append((real.copy(), labels.copy()))
        return to_device(real, noise, labels)

    state.step.to_device = spy
    step_once(state)
    real, labels = seen[0]
    for image, label in zip(real, labels):  # the row of the data the batch took, and its label
        row = np.flatnonzero((state.dataset.samples == image).all(axis=(1, 2, 3)))[0]
        assert state.dataset.labels[row] == label


def test_fast_and_plain_steps_agree_with_labels_and_two_g_batches(tmp_path, mnist):
    conf = conditional_conf(tmp_path / "c.py", dropout=0.0)
    states = [build_state(conditional_settings(conf, mnist, f"execution={execution}"), tmp_path)
              for execution in ("fast", "plain")]
    for _ in range(6):
        losses = [(step_once(state), state.result.losses) for state in states]
        assert losses[0][0] == losses[1][0]
        for name, value in losses[0][1].items():
            assert value == pytest.approx(losses[1][1][name], rel=1e-4, abs=1e-6), name
    fast, plain = (tensors(state) for state in states)
    for name in fast:
        np.testing.assert_allclose(fast[name], plain[name], rtol=1e-4, atol=1e-6, err_msg=name)
    # both drew the fake classes and G's second batch from the step's stream, in step
    assert states[0].step.rng.state_dict() == states[1].step.rng.state_dict()


def test_one_g_batch_draws_no_extra_noise(tmp_path, mnist):
    conf = conditional_conf(tmp_path / "c.py")
    two = build_state(conditional_settings(conf, mnist), tmp_path)
    one = build_state(conditional_settings(conf, mnist, "loss.g_batches=1"), tmp_path)
    for state in (two, one):
        step_once(state)  # D
        step_once(state)  # G
    assert two.step.rng.rng.bit_generator.state != one.step.rng.rng.bit_generator.state
    # with one batch the step drew only the two batches' fake classes
    fresh = build_state(conditional_settings(conf, mnist, "loss.g_batches=1"), tmp_path).step.rng
    fresh.labels(8, 10)
    fresh.labels(8, 10)
    assert one.step.rng.state_dict() == fresh.state_dict()


@pytest.mark.skipif(PADDLE_2, reason="Paddle 2.6 cannot set its generator's position (dropout)")
def test_a_stopped_conditional_run_with_dropout_resumes_bitwise(tmp_path, mnist):
    conf = conditional_conf(tmp_path / "c.py", dropout=0.5)
    EVENTS.clear()
    assert cli(conf, mnist, tmp_path / "a") == 0
    reference = list(EVENTS)
    EVENTS.clear()
    assert cli(conf, mnist, tmp_path / "b", "--set", "plugin_options.resume_probe.kill_at=3") == 143
    assert cli(conf, mnist, tmp_path / "b", "--resume", "auto") == 0
    assert EVENTS == reference
    assert_same_train_state(newest(tmp_path / "a"), newest(tmp_path / "b"))
    _, meta = load_checkpoint(newest(tmp_path / "a"))
    assert meta["sample"]["num_classes"] == 10


def test_the_picture_has_a_row_per_class_with_the_same_noise_down_each_column(tmp_path, mnist):
    from paddle_gan.plugins.samples import fixed_noise_picture
    from paddle_gan.render import GRID_SCALE, TITLE_PIXELS, png_to_rgb

    state = build_state(conditional_settings(conditional_conf(tmp_path / "c.py"), mnist), tmp_path)
    assert state.fixed_noise.shape == (100, 4)
    np.testing.assert_array_equal(state.fixed_labels, np.repeat(np.arange(10), 10))
    np.testing.assert_array_equal(state.fixed_noise[:10], state.fixed_noise[90:])
    samples, png = fixed_noise_picture(state)
    rows = samples.reshape(10, 10, 28 * 28)
    assert not np.allclose(rows[0], rows[1])  # a class changes the picture
    picture = png_to_rgb(png)
    assert picture.shape[:2] == (10 * 28 * GRID_SCALE + TITLE_PIXELS, 10 * 28 * GRID_SCALE)


@pytest.fixture
def trained(tmp_path, mnist):
    """A checkpoint of a tiny conditional run."""
    conf = conditional_conf(tmp_path / "c.py")
    assert cli(conf, mnist, tmp_path / "run", passes=1, plugins="[checkpoint]") == 0
    return tmp_path / "run"


def test_generate_takes_labels_and_a_class(trained, tmp_path, capsys):
    from paddle_gan.cli import generate as generate_tool
    assert generate_tool.main([str(trained), "--labels", "3,3,7", "--seed", "5",
                               "--out", str(tmp_path / "l")]) == 0
    loaded = open_checkpoint(trained)
    got = np.load(tmp_path / "l.npy")
    noise = sample_noise(3, 5, loaded.noise_dim, loaded.noise_distribution)
    np.testing.assert_array_equal(got, generate(loaded.generator, noise, np.array([3, 3, 7])))
    assert not np.allclose(got[0], generate(loaded.generator, noise[:1], np.array([7])))
    assert generate_tool.main([str(trained), "--class", "7", "--num", "4",
                               "--out", str(tmp_path / "c")]) == 0
    noise = sample_noise(4, 0, loaded.noise_dim, loaded.noise_distribution)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"),
                                  generate(loaded.generator, noise, np.full(4, 7)))
    capsys.readouterr()


@pytest.mark.parametrize("args, message", [
    (["--class", "12"], "error: class 12 is not one of the generator's classes 0..9\n"),
    (["--labels", "1,-1"], "error: class -1 is not one of the generator's classes 0..9\n"),
    (["--pass", "0", "--class", "3"], "error: the fixed noise has its own classes"),
])
def test_classes_the_generator_lacks_are_exit_2(trained, capsys, args, message):
    assert generate_main([str(trained), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_an_unconditional_generator_takes_no_class(tmp_path, capsys):
    assert main(["-d", "uniform", "--num_passes", "1", "--iters_per_pass", "2", "--set",
                 "data_size=256", "--batch_size", "16", "--set", "plugins=[checkpoint]",
                 "--output_dir", str(tmp_path / "u")]) == 0
    assert generate_main([str(tmp_path / "u"), "--class", "1"]) == 2
    assert "is not conditional" in capsys.readouterr().err


def test_the_export_takes_noise_and_label_and_round_trips(trained, tmp_path):
    info = export_generator(open_checkpoint(trained), tmp_path / "export")
    assert info["label_input"] == {"name": "label", "shape": [None], "dtype": "int64",
                                   "classes": list(range(10))}
    assert info["check"]["max_abs_diff"] <= info["check"]["tolerance"]
    model = paddle.jit.load(str(tmp_path / "export" / "generator"))
    noise = sample_noise(2, 1, 4, "uniform")
    with paddle.no_grad():
        threes = model(paddle.to_tensor(noise), paddle.to_tensor(np.array([3, 3]))).numpy()
        sevens = model(paddle.to_tensor(noise), paddle.to_tensor(np.array([7, 7]))).numpy()
    assert not np.allclose(threes, sevens)


@pytest.mark.parametrize("conf_args, data, message", [
    ({}, "uniform", "is conditional (NUM_CLASSES = 10) but data uniform has no labels"),
    ({"num_classes": "5", "class_logits": 5}, "mnist",  # then: c.py's classes 0..4
     "data mnist has label 5, outside "),
    ({"class_head": False}, "mnist", "its discriminator gives 0 class logits a sample, expected "
     "NUM_CLASSES = 10 class logits"),
    ({"class_logits": 7}, "mnist", "gives 7 class logits a sample, expected NUM_CLASSES = 10"),
    ({"num_classes": "'ten'"}, "mnist", "NUM_CLASSES must be a whole number from 1 to"),
    ({"num_classes": "0"}, "mnist", "NUM_CLASSES must be a whole number from 1 to"),
])
def test_a_conf_that_does_not_fit_its_data_is_one_line_and_exit_2(tmp_path, mnist, capsys,
                                                                  conf_args, data, message):
    conf = conditional_conf(tmp_path / "c.py", **conf_args)
    argv = ["-d", data, "--num_passes", "1", "--iters_per_pass", "2", "--batch_size", "8",
            "--set", f"conf={conf}", "--output_dir", str(tmp_path / "out")]
    argv += ["--set", f"data_dir={mnist}"] if data == "mnist" else ["--set", "data_size=256"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_class_head_without_num_classes_is_exit_2(tmp_path, mnist, capsys):
    conf = tmp_path / "c.py"
    conf.write_text(conditional_conf(tmp_path / "tmp.py").read_text().replace(
        "NUM_CLASSES = 10", "CLASSES = 10").replace("NUM_CLASSES", "CLASSES"))
    assert cli(conf, mnist, tmp_path / "out", passes=1) == 2
    assert "expected no class logits (the conf has no NUM_CLASSES)" in capsys.readouterr().err


def test_iters_per_pass_epoch_is_the_data_s_whole_batches(tmp_path, mnist, capsys):
    conf = conditional_conf(tmp_path / "c.py")
    state = build_state(conditional_settings(conf, mnist, iters="epoch", batch=8), tmp_path)
    assert state.iters_per_pass == 40 // 8
    assert cli(conf, mnist, tmp_path / "out", "--iters_per_pass", "epoch", passes=1,
               plugins="[console, checkpoint]") == 0
    assert "1 passes x 5 iterations" in capsys.readouterr().out
    assert main(["-d", "mnist", "--set", "iters_per_pass=epochs", "--set", f"conf={conf}",
                 "--output_dir", str(tmp_path / "bad")]) == 2
    assert "iters_per_pass must be a number or epoch, got 'epochs'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_code:
        cli(conf, mnist, tmp_path / "bad", "--iters_per_pass", "epochs")
    assert exit_code.value.code == 2
    assert "--iters_per_pass: expected a number or epoch, got 'epochs'" in capsys.readouterr().err
