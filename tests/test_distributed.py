"""Data-parallel runs: two CPU processes (gloo) under paddle.distributed.launch, each with the
probe plugin of tests/distributed_probe.py. Both ranks make the same decisions and end with the
same parameters, rank 0 alone writes, a SIGTERM to the launcher saves and the resumed run is
bitwise the uninterrupted one; two processes with half the batch each compute what one process
does with the whole batch; another process count, a lost rank and ranks that differ are refused
or stopped with their exit codes.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from paddle_gan.checkpoint.files import list_checkpoints, load_checkpoint
from paddle_gan.cli.train import main

PROBE = Path(__file__).resolve().parent / "distributed_probe.py"
UNIFORM = ["-d", "uniform", "--num_passes", "2", "--iters_per_pass", "10", "--batch_size", "32",
           "--set", "data_size=4096", "--set", "plugin_options.console.every_n_iters=5"]
PLUGINS = ["--set", "plugins=[console, checkpoint, rank_probe]"]

# v1's uniform networks without batch norm: each rank's batch statistics would differ from the
# whole batch's, so only a conf without it computes exactly what one process does.
NO_BATCH_NORM_CONF = """
import paddle.nn as nn

NOISE_DIM = 4


def build_generator(shape):
    return nn.Sequential(nn.Linear(NOISE_DIM, 16), nn.ReLU(), nn.Linear(16, shape[0]))


def build_discriminator(shape, logits=2):
    return nn.Sequential(nn.Linear(shape[0], 16), nn.ReLU(), nn.Linear(16, logits))
"""


def launch(tmp_path: Path, name: str, *args: str, **probe_env) -> subprocess.CompletedProcess:
    """tools/gan_trainer.py's command line (with the probe plugin) in 2 processes; the probe
    writes into tmp_path/<name>-probe, the launcher's worker logs go to tmp_path/<name>-log."""
    probe_dir = tmp_path / f"{name}-probe"
    probe_dir.mkdir(exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PROBE_DIR": str(probe_dir),
           **{key: str(value) for key, value in probe_env.items()}}
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
               "--log_dir", str(tmp_path / f"{name}-log"), str(PROBE), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def probes(tmp_path: Path, name: str) -> list:
    return [json.loads((tmp_path / f"{name}-probe" / f"rank-{r}.json").read_text())
            for r in (0, 1)]


def worker_log(tmp_path: Path, name: str, rank: int) -> str:
    return (tmp_path / f"{name}-log" / f"workerlog.{rank}").read_text()


def newest(out: Path) -> Path:
    return list_checkpoints(out / "checkpoints")[-1]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """2 processes, 2 passes of 10 iterations, never stopped."""
    tmp = tmp_path_factory.mktemp("distributed")
    done = launch(tmp, "one_go", *UNIFORM, *PLUGINS, "--output_dir", str(tmp / "one_go"))
    assert done.returncode == 0, done.stdout[-2000:]
    return tmp


def test_both_ranks_decide_alike_and_end_alike_and_rank_0_alone_writes(uninterrupted):
    rank0, rank1 = probes(uninterrupted, "one_go")
    assert (rank0["world"], rank0["writer"], rank1["writer"]) == (2, True, False)
    assert len(rank0["steps"]) == 20 and rank0["steps"] == rank1["steps"]  # decisions, losses
    assert rank0["digests"] == rank1["digests"]
    out = uninterrupted / "one_go"
    assert sorted(p.name for p in out.iterdir()) == [".lock", "checkpoints", "config.yaml",
                                                     "train.log"]
    log = (out / "train.log").read_text()
    assert "data-parallel: rank 0 of 2 processes, each step's batch 32 split into 2 shards of " \
        "16" in log and "rank 1" not in log
    _, meta = load_checkpoint(newest(out))
    assert meta["world_size"] == 2 and len(meta["rng"]["paddle_ranks"]) == 2


def test_sigterm_to_the_launcher_saves_and_the_resumed_run_is_the_same(uninterrupted, tmp_path):
    out = tmp_path / "stopped"
    stopped = launch(tmp_path, "stopped", *UNIFORM, *PLUGINS, "--output_dir", str(out),
                     PROBE_SIGNAL_LAUNCHER_AT=13)
    assert stopped.returncode == 15  # the launcher exits with the signal's number
    # both ranks stopped after the same step (the save is collective); the launcher closes the
    # workers' logs as it signals them, so rank 0's train.log tells
    log = (out / "train.log").read_text()
    assert "SIGTERM received: stopping after the current step" in log
    assert "checkpoint (SIGTERM)" in log
    _, meta = load_checkpoint(newest(out))
    assert 13 <= meta["saved_at"]["global_step"] < 20 and meta["saved_at"]["reason"] == "SIGTERM"
    resumed = launch(tmp_path, "resumed", *UNIFORM, *PLUGINS, "--output_dir", str(out),
                     "--resume", "auto")
    assert resumed.returncode == 0, resumed.stdout[-2000:]
    reference = newest(uninterrupted / "one_go")
    assert newest(out).name == reference.name
    for name in ("arrays.npz",):  # bitwise the uninterrupted run
        assert (newest(out) / name).read_bytes() == (reference / name).read_bytes()


def test_another_process_count_is_refused_naming_what_was_saved(uninterrupted, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(uninterrupted / "one_go", out)
    assert main([*UNIFORM, "--num_passes", "3", "--output_dir", str(out), "--resume",
                 "auto"]) == 2
    err = capsys.readouterr().err
    assert "was saved by a run of 2 process(es)" in err and "this run has 1" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("extra", [[], ["--set", "packing=2", "--set", "ema.decay=0.9"]],
                         ids=["plain", "packed-and-averaged"])
def test_two_processes_compute_what_one_does_with_the_whole_batch(tmp_path, extra):
    conf = tmp_path / "no_bn.py"
    conf.write_text(NO_BATCH_NORM_CONF)
    args = [*UNIFORM, "--set", f"conf={conf}", "--set", "scheduler.name=alternate",
            "--set", "loss.name=non_saturating", "--set", "plugins=[checkpoint]", *extra]
    assert main([*args, "--output_dir", str(tmp_path / "one")]) == 0
    two = launch(tmp_path, "two", *args, "--output_dir", str(tmp_path / "two"))
    assert two.returncode == 0, two.stdout[-2000:]
    (one_arrays, _), (two_arrays, _) = (load_checkpoint(newest(tmp_path / run))
                                        for run in ("one", "two"))
    weights = [k for k in one_arrays if k.startswith("net/") and k.endswith("weight")]
    assert weights
    for key in one_arrays:
        if one_arrays[key].dtype.kind == "f":
            np.testing.assert_allclose(two_arrays[key], one_arrays[key], rtol=1e-4, atol=1e-6,
                                       err_msg=key)
    # and not by chance: one process on half the batch ends elsewhere
    assert main([*args, "--batch_size", "16", "--output_dir", str(tmp_path / "half")]) == 0
    half, _ = load_checkpoint(newest(tmp_path / "half"))
    assert not np.allclose(half[weights[0]], one_arrays[weights[0]], rtol=1e-3)


def test_a_lost_rank_stops_the_others_within_seconds(tmp_path):
    start = time.monotonic()
    lost = launch(tmp_path, "lost", *UNIFORM, *PLUGINS, "--output_dir", str(tmp_path / "lost"),
                  PROBE_DIE_AT=7)
    assert lost.returncode != 0 and time.monotonic() - start < 120
    assert "error: another process of the run stopped" in worker_log(tmp_path, "lost", 0)


@pytest.mark.parametrize("slow_log", [0, 3])  # 3: the launcher's SIGTERM comes while rank 0 logs
def test_ranks_that_differ_stop_with_exit_3_at_the_checkpoint(tmp_path, slow_log):
    out = tmp_path / "skewed"
    skewed = launch(tmp_path, "skewed", *UNIFORM, *PLUGINS, "--output_dir", str(out),
                    PROBE_SKEW_AT=4, PROBE_SLOW_FAILURE_LOG=slow_log)
    assert skewed.returncode == 3
    line = "parameter 'net/gen_training/gen.out.weight' is different on rank 1 than on rank 0"
    assert line in (out / "train.log").read_text()
    assert not list_checkpoints(out / "checkpoints")  # nothing saved from that state


@pytest.mark.parametrize("how", ["exit", "freeze"])
def test_a_rank_lost_at_the_pass_end_barrier_is_exit_4_within_a_bound(tmp_path, how):
    """Rank 1 goes while rank 0 finishes pass 0. Exited: the launcher's SIGTERM reaches rank 0
    waiting at the barrier, which stops with its line. Frozen (nothing tells the launcher): rank
    0 sees no sign of rank 1 for timeouts.rank seconds."""
    out = tmp_path / "lost"
    start = time.monotonic()
    lost = launch(tmp_path, "lost", *UNIFORM, *PLUGINS, "--output_dir", str(out),
                  "--set", "timeouts.rank=4", PROBE_LOST_AT_PASS_END=0, PROBE_LOST_HOW=how)
    took = time.monotonic() - start
    log = worker_log(tmp_path, "lost", 0)
    assert lost.returncode == 4, log[-1500:]
    assert took < 60
    why = "no sign of it for 4 s" if how == "freeze" else "waited at the end of pass 0"
    assert why in log and "error: " in log
    assert "error: " in (out / "train.log").read_text().splitlines()[-1]


def test_ranks_started_with_different_settings_are_exit_2_naming_the_setting(tmp_path):
    out = tmp_path / "differ"
    start = time.monotonic()
    differ = launch(tmp_path, "differ", *UNIFORM, *PLUGINS, "--output_dir", str(out),
                    PROBE_RANK1_ARGS="--iters_per_pass 7")
    assert differ.returncode == 2 and time.monotonic() - start < 25
    line = "rank 1 was started with iters_per_pass=7, rank 0 with iters_per_pass=10"
    assert line in worker_log(tmp_path, "differ", 0) and line in worker_log(tmp_path, "differ", 1)
    assert not out.exists() or not any(out.iterdir())  # nothing written
