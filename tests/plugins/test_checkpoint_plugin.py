"""The checkpoint plugin: what a checkpoint holds, exact restore of every part (optimiser moments
included) into a fresh process-like state, when it saves, NaN refusal, and keep-last rotation."""
import random
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddle_gan.checkpoint_io import CheckpointError, list_checkpoints, load_checkpoint
from paddle_gan.cli import main
from paddle_gan.config import resolve_settings
from paddle_gan.plugins.checkpoint import CheckpointPlugin, collect, restore
from paddle_gan.run import build_state
from paddle_gan.step import Diverged
from paddle_gan.trainer import train


def tiny_state(tmp_path: Path, passes=1, iters=12):
    settings = resolve_settings(None, ["data_size=512"], {
        "num_passes": passes, "iters_per_pass": iters, "batch_size": 16}, "uniform")
    return build_state(settings, tmp_path)


def plugin(every=0, keep=3):
    return CheckpointPlugin(CheckpointPlugin.Options(every_n_iters=every, keep_last=keep))


def names(tmp_path):
    return [p.name for p in list_checkpoints(tmp_path / "checkpoints")]


def step_once(state):
    """One more iteration exactly as the trainer does it."""
    real = state.sampler.next_batch(state.dataset.samples)
    noise = state.noise.next()
    decision = state.step(real, noise)["decision"]
    state.nets.sync_after(decision)
    return decision


def test_a_checkpoint_holds_every_part_of_the_state(tmp_path):
    state = tiny_state(tmp_path)
    train(state, [])  # 12 steps: D and G have both been trained (strike limit 5)
    arrays, meta = collect(state, [], pass_end=True, reason="test")
    for net, name in [("gen_training", "gen.hidden.weight"), ("gen_training", "dis.out.bias"),
                      ("dis_training", "dis.hidden_bn._mean"),
                      ("generator", "gen.hidden_bn._variance")]:
        assert f"net/{net}/{name}" in arrays
    for opt, net in [("opt_g", "gen_training/gen"), ("opt_d", "dis_training/dis")]:
        for acc in ("moment1", "moment2", "beta1_pow_acc", "beta2_pow_acc"):
            assert any(k.startswith(f"opt/{opt}/{acc}") and f"/{net}." in k for k in arrays)
    assert not any("linear_" in k for k in arrays)  # Paddle's per-process names never leak
    assert arrays["fixed_noise"].shape == (1024, 10)
    assert meta["counters"]["pass_id"] == state.pass_id + 1 and meta["counters"]["iteration"] == 0
    assert meta["saved_at"]["pass_end"] and meta["saved_at"]["global_step"] == 12
    assert meta["scheduler"] == state.scheduler.state_dict()
    assert meta["sampler"] == state.sampler.state_dict()
    assert set(meta["rng"]) == {"noise", "python", "numpy_global", "paddle"}
    assert meta["settings"]["data_size"] == 512
    assert meta["sample"] == {"noise_dim": 10, "shape": [2], "pixel_range": None}


def test_restore_into_a_fresh_state_is_exact_and_continues_identically(tmp_path):
    trained = tiny_state(tmp_path / "a")
    train(trained, [])
    arrays, meta = collect(trained, [])
    draws = (random.random(), np.random.random(), paddle.randn([3]).numpy().tobytes())
    fresh = tiny_state(tmp_path / "b")  # new parameters, so new Paddle-internal names
    restore(fresh, [], arrays, meta, "test")
    again, meta_again = collect(fresh, [])
    # The process-wide streams (Python, NumPy's legacy one, Paddle's) continue where they were.
    assert (random.random(), np.random.random(), paddle.randn([3]).numpy().tobytes()) == draws
    assert arrays.keys() == again.keys()
    for key in arrays:
        assert arrays[key].tobytes() == again[key].tobytes(), key
    assert meta_again["rng"] == meta["rng"] and meta_again["counters"] == meta["counters"]
    # Both go on exactly alike: moments and beta powers are in use, not recreated at zero.
    for _ in range(3):
        assert step_once(trained) == step_once(fresh)
    after_a, after_b = collect(trained, [])[0], collect(fresh, [])[0]
    assert all(after_a[k].tobytes() == after_b[k].tobytes() for k in after_a)


def test_restore_refuses_a_checkpoint_of_another_network(tmp_path):
    state = tiny_state(tmp_path)
    arrays, meta = collect(state, [])
    del arrays["net/generator/gen.out.bias"]
    with pytest.raises(CheckpointError, match="generator does not match.*gen.out.bias"):
        restore(tiny_state(tmp_path), [], arrays, meta, "ckpt")
    arrays, meta = collect(state, [])
    arrays["net/dis_training/dis.out.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(CheckpointError, match=r"dis.out.weight is float32\[3, 3\]"):
        restore(tiny_state(tmp_path), [], arrays, meta, "ckpt")


def test_nan_anywhere_is_never_saved_and_stops_as_diverged(tmp_path):
    state = tiny_state(tmp_path)
    train(state, [])
    weight = dict(state.nets.dis_training.named_parameters())["dis.hidden.weight"]
    weight.set_value(np.full(weight.shape, np.nan, np.float32))
    with pytest.raises(Diverged, match="parameter 'net/dis_training/dis.hidden.weight' is NaN/Inf"):
        plugin().save(state, pass_end=False, reason="test")
    assert names(tmp_path) == []


def test_saves_at_pass_ends_every_n_iterations_and_on_a_stop(tmp_path):
    state = tiny_state(tmp_path, passes=2, iters=5)
    ckpt = plugin(every=3, keep=100)
    ckpt.plugins = [ckpt]
    train(state, [ckpt])
    # Every 3 steps (3, 6, 9) and at each pass end (5, 10); step 10 is both, saved once as the
    # pass end; no extra save at a normal end of training.
    assert names(tmp_path) == ["step-00000003-pass-0000", "step-00000005-pass-0000",
                               "step-00000006-pass-0001", "step-00000009-pass-0001",
                               "step-00000010-pass-0001"]
    assert load_checkpoint(tmp_path / "checkpoints/step-00000010-pass-0001")[1]["saved_at"][
        "pass_end"]

    state = tiny_state(tmp_path / "stop", passes=2, iters=5)
    state.stop_reason = "SIGINT"  # seen after the first step
    train(state, [plugin(every=1)])
    assert names(tmp_path / "stop") == ["step-00000001-pass-0000"]  # not twice for one step


def test_keep_last_rotation_never_deletes_the_checkpoint_resumed_from(tmp_path):
    args = ["-d", "uniform", "--num_passes", "1", "--iters_per_pass", "10", "--batch_size", "32",
            "--set", "data_size=4096", "--set", "plugins=[checkpoint]",
            "--set", "plugin_options.checkpoint.every_n_iters=2", "--output_dir", str(tmp_path)]
    assert main(args + ["--set", "plugin_options.checkpoint.keep_last=2"]) == 0
    assert names(tmp_path) == ["step-00000008-pass-0000", "step-00000010-pass-0000"]
    assert main(args + ["--set", "plugin_options.checkpoint.keep_last=1", "--num_passes", "2",
                        "--resume", str(tmp_path / "checkpoints/step-00000008-pass-0000")]) == 0
    assert names(tmp_path) == ["step-00000008-pass-0000", "step-00000020-pass-0001"]


def test_bad_options_are_exit_2(tmp_path, capsys):
    code = main(["-d", "uniform", "--set", "plugins=[checkpoint]", "--output_dir", str(tmp_path),
                 "--set", "plugin_options.checkpoint.keep_last=0"])
    assert code == 2 and "keep_last" in capsys.readouterr().err
