"""Checkpoints already on users' disks keep working: one written by an earlier version resumes.

The stored checkpoints were made on another machine (main 83a92d8, an AMD EPYC), and another CPU
or thread count rounds the last bits of a float differently (MKL picks other kernels), so the
run resumed here is held to the stored end only as far as that allows: the same files, keys,
shapes and dtypes, the same counters, scheduler, sampler position and random streams exactly,
and every float within `RTOL`/`ATOL`. Bit for bit is asked where both sides are computed here:
the old checkpoint and this version's rewrite of it (restored, then saved again) resume to the
same bytes.
"""
import shutil
from pathlib import Path

import numpy as np
import pytest

from paddle_gan.checkpoint import Checkpointer
from paddle_gan.checkpoint.files import load_checkpoint
from paddle_gan.checkpoint.train_state import FORMAT
from paddle_gan.cli.train import build_parser, main, settings_from_args
from paddle_gan.plugins import build_plugins
from paddle_gan.run import build_state
from tests.helpers import assert_same_train_state

FIXTURES = Path(__file__).parent / "fixtures"
MAIN_83A92D8 = FIXTURES / "main-83a92d8"
START, END = "step-00000008-pass-0000", "step-00000016-pass-0001"
ARGS = ["-d", "uniform", "--num_passes", "2", "--iters_per_pass", "8", "--batch_size", "16",
        "--set", "data_size=256", "--set", "plugins=[checkpoint]",
        "--set", "plugin_options.checkpoint.keep_last=5"]
# Eight iterations of a float32 network on another CPU or kernel path: a weight with a real
# gradient differs by at most 3.3e-7 of its array's largest value, an Adam moment (a sum of
# gradients, whose order the kernel picks) by 2.8e-5 (measured here under MKL's SSE4.2, AVX2 and
# AVX-512 paths, one and two threads, against the AMD machine's files). Each array is held to 30
# times that; eight steps computed differently move the weights by 1e-3 of their largest value.
TOLERANCE = {"net": 1e-5, "opt": 1e-3}  # times the largest magnitude in the array
# But Adam steps a weight by about its learning rate whatever the gradient's size, so a weight
# whose gradient is rounding noise walks where the rounding sends it: a bias right before batch
# norm (which removes it; its gradient is 0 in exact arithmetic), the bias of a unit ReLU keeps
# shut. Those are the weights whose gradient RMS (Adam's sqrt(moment2)) in the stored run is
# below NOISE_RMS (theirs: 1e-11 to 5e-8; every other: over 1e-5): 104 of the 1,888 values of
# weights and moments, which are only required finite.
NOISE_RMS = 1e-6
EXACT_PARTS = ("scheduler", "sampler", "rng", "sample")  # neither depends on rounding


def rounding_noise(key: str, stored: dict) -> np.ndarray:
    """Which elements of array `key` (a weight of any network, or its Adam moments) belong to
    weights whose gradient is rounding noise in the `stored` checkpoint (see NOISE_RMS)."""
    name = key.split("/")[-1]  # gen.hidden.bias, dis.out.weight, ...
    owner = "opt/opt_d/moment2/dis_training" if name.startswith("dis.") else \
        "opt/opt_g/moment2/gen_training"
    moment2 = stored.get(f"{owner}/{name}")
    if moment2 is None or moment2.shape != stored[key].shape:  # beta powers, norms' statistics
        return np.zeros(stored[key].shape, bool)
    return np.sqrt(moment2) < NOISE_RMS


def resume(source: Path, out: Path) -> Path:
    """Run ARGS from `source` to the end; the checkpoint it ends with."""
    assert main(ARGS + ["--output_dir", str(out), "--resume", str(source)]) == 0
    return out / "checkpoints" / END


def rewritten(old: Path, folder: Path) -> Path:
    """`old` as this version writes it: restored into a fresh run of the same settings and
    saved again, as a run does it."""
    settings = settings_from_args(build_parser().parse_args(ARGS + ["--output_dir",
                                                                    str(folder)]))
    state = build_state(settings, folder)
    checkpointer = Checkpointer(folder, build_plugins(settings.plugins, settings.plugin_options,
                                                      True))
    checkpointer.resume(state, str(old))
    return checkpointer.save(state, "rewritten").path


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    old = tmp_path_factory.mktemp("old") / "main-83a92d8"
    shutil.copytree(MAIN_83A92D8, old)  # resume must never need to write into it
    return old, resume(old / START, tmp_path_factory.mktemp("run"))


def test_a_checkpoint_of_main_83a92d8_resumes_to_its_own_end(resumed):
    old, end = resumed
    expected_arrays, expected_meta = load_checkpoint(old / END)
    arrays, meta = load_checkpoint(end)
    assert arrays.keys() == expected_arrays.keys()
    for key, value in expected_arrays.items():
        assert (arrays[key].dtype, arrays[key].shape) == (value.dtype, value.shape), key
        if key.startswith("rng/") or key == "fixed_noise":
            assert np.array_equal(arrays[key], value), key
            continue
        assert np.isfinite(arrays[key]).all(), key
        tight = ~rounding_noise(key, expected_arrays)
        atol = TOLERANCE[key.split("/")[0]] * np.abs(value).max()
        np.testing.assert_allclose(arrays[key][tight], value[tight], rtol=0, atol=atol,
                                   err_msg=key)
    assert meta["format"] == expected_meta["format"] == FORMAT
    for part in EXACT_PARTS:  # new keys may be added
        for key, value in expected_meta[part].items():
            assert meta[part][key] == value, (part, key)
    counters, expected = meta["counters"], expected_meta["counters"]
    assert {k: v for k, v in counters.items() if k != "losses"} == {
        k: v for k, v in expected.items() if k != "losses"}
    assert counters["losses"] == pytest.approx(expected["losses"], rel=TOLERANCE["net"])


def test_the_old_checkpoint_and_its_rewrite_resume_to_the_same_bytes(resumed, tmp_path):
    old, end = resumed
    rewrite = rewritten(old / START, tmp_path / "rewrite")
    old_meta, meta = load_checkpoint(old / START)[1], load_checkpoint(rewrite)[1]
    assert set(meta) > set(old_meta)  # this version's layout: keys added since (world_size)
    assert_same_train_state(end, resume(rewrite, tmp_path / "run"))
