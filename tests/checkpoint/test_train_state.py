"""What a checkpoint holds and how it comes back: every part of the state (optimiser moments
included) restored exactly into a fresh process-like state, and a foreign network refused."""
import random

import numpy as np
import paddle
import pytest

from paddle_gan.checkpoint.train_state import check_settings, collect, restore
from paddle_gan.config import Settings, settings_to_dict
from paddle_gan.errors import CheckpointError
from paddle_gan.trainer import train
from tests.helpers import step_once, tiny_state


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
    assert set(meta["rng"]) == {"noise", "python", "numpy_global", "paddle", "step"}
    assert meta["settings"]["data_size"] == 512
    assert meta["sample"] == {"noise_dim": 10, "shape": [2], "pixel_range": None, "noise": "normal",
                              "num_classes": 0}


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


def test_a_sources_own_section_is_refused_like_its_data_size_and_others_are_ignored():
    ring = settings_to_dict(Settings(data="ring"))
    wider = settings_to_dict(Settings(data="ring"))
    wider["ring"]["sigma"] = 0.02
    with pytest.raises(CheckpointError, match="ring.sigma=0.01"):
        check_settings(ring, wider, "ckpt")
    wider_grid = settings_to_dict(Settings(data="ring"))
    wider_grid["grid"]["sigma"] = 0.5
    assert check_settings(ring, wider_grid, "ckpt") == []  # not this run's data
    # a uniform checkpoint written before the sections existed resumes without a word
    old = settings_to_dict(Settings(data="uniform"))
    del old["ring"], old["grid"]
    assert check_settings(old, settings_to_dict(Settings(data="uniform")), "ckpt") == []
