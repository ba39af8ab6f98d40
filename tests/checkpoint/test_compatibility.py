"""Checkpoints already on users' disks keep working: one written by an earlier version resumes,
and the resumed run ends bit for bit where that version's own run ended."""
import shutil
from pathlib import Path

import numpy as np

from paddle_gan.checkpoint.files import load_checkpoint
from paddle_gan.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
MAIN_83A92D8 = FIXTURES / "main-83a92d8"
ARGS = ["-d", "uniform", "--num_passes", "2", "--iters_per_pass", "8", "--batch_size", "16",
        "--set", "data_size=256", "--set", "plugins=[checkpoint]",
        "--set", "plugin_options.checkpoint.keep_last=5"]


def test_a_checkpoint_of_main_83a92d8_resumes_to_exactly_its_own_end(tmp_path):
    old = tmp_path / "old"
    shutil.copytree(MAIN_83A92D8, old)  # resume must never need to write into it
    out = tmp_path / "run"
    code = main(ARGS + ["--output_dir", str(out),
                        "--resume", str(old / "step-00000008-pass-0000")])
    assert code == 0
    expected_arrays, expected_meta = load_checkpoint(old / "step-00000016-pass-0001")
    arrays, meta = load_checkpoint(out / "checkpoints" / "step-00000016-pass-0001")
    assert arrays.keys() == expected_arrays.keys()
    for key, value in expected_arrays.items():
        assert arrays[key].dtype == value.dtype and np.array_equal(arrays[key], value), key
    assert meta["format"] == expected_meta["format"]
    for part in ("counters", "scheduler", "sampler", "rng", "sample"):  # new keys may be added
        for key, value in expected_meta[part].items():
            assert meta[part][key] == value, (part, key)
