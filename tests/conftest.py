"""Shared test set-up: Paddle imported once with the project's CPU settings; tiny run arguments."""
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from paddle_gan import runtime  # noqa: E402

runtime.configure_cpu_environment()
runtime.import_paddle()

# A uniform run small enough for a test: seconds, not minutes.
TINY_UNIFORM = [
    "-d", "uniform", "--num_passes", "2", "--iters_per_pass", "15", "--batch_size", "32",
    "--set", "data_size=4096", "--set", "plugin_options.console.every_n_iters=5",
]


@pytest.fixture
def tiny_uniform_args(tmp_path):
    """CLI arguments for a tiny uniform run writing into tmp_path/run."""
    return TINY_UNIFORM + ["--output_dir", str(tmp_path / "run")]
