"""The command line: exit codes, output layout, determinism, a short end-to-end uniform run."""
import subprocess
import sys

import numpy as np
import paddle
import pytest
import yaml

from paddle_gan.cli.train import main
from paddle_gan.config import resolve_settings
from paddle_gan.run import run
from tests.helpers import REPO_ROOT


def run_tool(*args):
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools/gan_trainer.py"), *args],
        capture_output=True, text=True, timeout=120,
    )


def test_end_to_end_uniform(tiny_uniform_args, tmp_path, capsys):
    assert main(tiny_uniform_args) == 0
    out_dir = tmp_path / "run"
    assert (out_dir / "samples/pass-0000.png").read_bytes()[:4] == b"\x89PNG"
    assert (out_dir / "samples/pass-0001.png").exists()
    assert np.load(out_dir / "samples/fixed_noise.npy").shape == (1024, 10)
    config = yaml.safe_load((out_dir / "config.yaml").read_text())
    assert config["batch_size"] == 32 and config["data_size"] == 4096
    log = (out_dir / "train.log").read_text()
    assert "pass 1 samples:" in log and "cells hold at least half their expected share" in log
    assert "it/s" in log and "ETA" in log and "D steps" in log
    assert f"device: cpu, Paddle {paddle.__version__}" in log  # which Paddle ran it
    assert "inside the support" in capsys.readouterr().out


def test_bad_data_source_is_exit_2_with_one_line():
    result = run_tool("-d", "imagenet")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown data source 'imagenet'" in lines[0]


def test_use_gpu_on_a_cpu_build_is_exit_2_saying_what_to_install(tmp_path):
    result = run_tool("-d", "uniform", "--use_gpu", "1", "--output_dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CUDA" in lines[0] and "paddlepaddle-gpu" in lines[0]


def test_broken_conf_module_is_exit_2_with_one_line(tmp_path):
    (tmp_path / "conf.py").write_text("NOISE_DIM = 10\ndef build_generator(:\n")
    result = run_tool("-d", "uniform", "--set", f"conf={tmp_path / 'conf.py'}",
                      "--output_dir", str(tmp_path / "run"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "conf.py, line 2: SyntaxError" in lines[0]


def test_bad_flag_value_is_exit_2(tmp_path):
    assert run_tool("-d", "uniform", "--batch_size", "0").returncode == 2
    assert run_tool("-d", "uniform", "--num_passes", "many").returncode == 2


def test_missing_data_names_the_script(tmp_path, capsys):
    code = main(["-d", "mnist", "--set", f"data_dir={tmp_path}", "--output_dir", str(tmp_path)])
    assert code == 2
    assert "get_mnist_data.sh" in capsys.readouterr().err


def final_state(seed, out_dir):
    args = {"num_passes": 1, "iters_per_pass": 12, "batch_size": 32, "seed": seed,
            "output_dir": str(out_dir)}
    settings = resolve_settings(None, ["data_size=4096"], args, "uniform")
    run(settings)
    # The whole checkpoint: every network, both optimisers, every random stream's state.
    (checkpoint,) = (out_dir / "checkpoints").glob("*/arrays.npz")
    with np.load(checkpoint) as arrays:
        saved = {k: arrays[k] for k in arrays.files}
    return saved, (out_dir / "samples/pass-0000.png").read_bytes()


def test_same_seed_same_results_and_another_seed_differs(tmp_path):
    params_a, png_a = final_state(7, tmp_path / "a")
    params_b, png_b = final_state(7, tmp_path / "b")
    params_c, png_c = final_state(8, tmp_path / "c")
    assert params_a.keys() == params_b.keys()
    assert all(np.array_equal(params_a[k], params_b[k]) for k in params_a)
    assert png_a == png_b
    assert not all(np.array_equal(params_a[k], params_c[k]) for k in params_a)
    assert png_a != png_c


def test_bf16_where_paddle_has_no_bfloat16_kernels_is_one_line(tmp_path, capsys):
    import paddle

    from paddle_gan.networks import check_precision

    try:  # what this Paddle on this device can do decides the expected outcome
        check_precision("bf16", paddle.device.get_device())
        pytest.skip("this Paddle computes in bfloat16 here")
    except Exception:
        pass
    code = main(["-d", "uniform", "--set", "precision=bf16", "--num_passes", "1",
                 "--iters_per_pass", "2", "--output_dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: precision bf16: Paddle ")
    assert not (tmp_path / "run" / "train.log").exists()  # refused before the run began
