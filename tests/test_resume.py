"""Resume end to end through the CLI: a run stopped by SIGTERM (mid-pass, on the last step of a
pass, after a pass end) and resumed is bit for bit the run done in one go; bad checkpoints and
configs are refused with exit 2; a NaN stops with exit 3 and leaves the last good checkpoint.
"""
import hashlib
import io
import json
import pickle
import struct
from dataclasses import dataclass

import numpy as np
import pytest

from paddle_gan.checkpoint.files import list_checkpoints, load_checkpoint, save_checkpoint
from paddle_gan.cli.train import main
from paddle_gan.plugins.base import Plugin
from paddle_gan.registry import PLUGINS
from tests.helpers import EVENTS, assert_same_train_state, newest

ITERS = 10


def cli(out_dir, *extra, passes=2, plugins="[console, checkpoint, resume_probe]"):
    return main(["-d", "uniform", "--num_passes", str(passes), "--iters_per_pass", str(ITERS),
                 "--batch_size", "32", "--set", "data_size=4096", "--set", f"plugins={plugins}",
                 "--output_dir", str(out_dir), *extra])


@pytest.fixture(scope="module")
def one_go(tmp_path_factory):
    """The reference: 2 passes x 10 iterations without a stop."""
    out = tmp_path_factory.mktemp("one_go")
    EVENTS.clear()
    assert cli(out) == 0
    return out, list(EVENTS)


@pytest.mark.parametrize("kill_at", [7, ITERS, ITERS + 3], ids=["mid-pass", "last-step", "pass-1"])
def test_sigterm_then_resume_is_bitwise_the_run_in_one_go(one_go, tmp_path, kill_at, capsys):
    ref_dir, ref_events = one_go
    EVENTS.clear()
    assert cli(tmp_path, "--set", f"plugin_options.resume_probe.kill_at={kill_at}") == 143
    stopped = newest(tmp_path)
    _, meta = load_checkpoint(stopped)
    assert meta["saved_at"]["global_step"] == kill_at and meta["saved_at"]["reason"] == "SIGTERM"
    assert cli(tmp_path, "--resume", "auto") == 0
    assert f"resuming from {stopped}" in capsys.readouterr().out
    # Same losses, decisions, noise draws and hook sequence (no pass-end fired twice) ...
    assert EVENTS == ref_events
    # ... and the same parameters, optimiser moments, scheduler, sampler, random states and
    # plugin state at the end.
    assert_same_train_state(newest(ref_dir), newest(tmp_path))


def test_a_format_1_checkpoint_resumes_exactly(one_go, tmp_path):
    """/1 saved the noise generator's state at the next draw, not a chunk start and position."""
    ref_dir, ref_events = one_go
    EVENTS.clear()
    assert cli(tmp_path / "run", "--set", "plugin_options.resume_probe.kill_at=7") == 143
    arrays, meta = load_checkpoint(newest(tmp_path / "run"))
    noise = meta["rng"]["noise"]
    rng = np.random.default_rng()
    rng.bit_generator.state = noise["bit_generator"]
    rng.standard_normal((noise["used"], 32, 10), dtype=np.float32)  # batch 32, noise 10
    meta = {**meta, "format": "paddle_gan.train_state/1",
            "rng": {**meta["rng"], "noise": rng.bit_generator.state}}
    old = save_checkpoint(tmp_path / "old", "step-7", arrays, meta)
    EVENTS.clear()
    assert cli(tmp_path / "resumed", "--resume", str(old)) == 0

    def losses(events):  # the noise generator's state is recorded in the /2 form; not compared
        return [event[:4] for event in events if event[0] == "step"]
    assert losses(EVENTS) == losses(ref_events)[7:]
    arrays_ref, _ = load_checkpoint(newest(ref_dir))
    arrays_resumed, _ = load_checkpoint(newest(tmp_path / "resumed"))
    for key, value in arrays_ref.items():
        assert value.tobytes() == arrays_resumed[key].tobytes(), key


def test_sigint_saves_and_is_exit_130(tmp_path):
    code = cli(tmp_path, "--set", "plugin_options.resume_probe.kill_at=4",
               "--set", "plugin_options.resume_probe.signal=SIGINT", passes=1)
    assert code == 130
    _, meta = load_checkpoint(newest(tmp_path))
    assert meta["saved_at"]["reason"] == "SIGINT" and meta["counters"]["global_step"] == 4


def test_resume_from_a_pass_end_checkpoint_does_not_repeat_the_pass_end(one_go, tmp_path):
    ref_dir, ref_events = one_go
    EVENTS.clear()
    assert cli(tmp_path, passes=1) == 0
    _, meta = load_checkpoint(newest(tmp_path))
    assert meta["saved_at"] == {"pass_id": 0, "iteration": ITERS, "global_step": ITERS,
                                "pass_end": True, "reason": "end of pass 0"}
    assert (meta["counters"]["pass_id"], meta["counters"]["iteration"]) == (1, 0)
    assert cli(tmp_path, "--resume", str(newest(tmp_path))) == 0  # more passes than before
    assert EVENTS == ref_events
    assert_same_train_state(newest(ref_dir), newest(tmp_path))


def test_truncated_newest_checkpoint_falls_back_with_a_warning(tmp_path, capsys):
    cli(tmp_path, "--set", "plugin_options.checkpoint.every_n_iters=4", passes=1)
    *_, previous, last = list_checkpoints(tmp_path / "checkpoints")
    arrays = last / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:100])
    capsys.readouterr()
    assert cli(tmp_path, "--resume", "auto", passes=1) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if last.name in line and "skipping" in line]
    assert len(warnings) == 1 and "truncated" in warnings[0]
    assert f"resuming from {previous}" in out


def test_a_file_replaced_by_garbage_is_reported_and_refused(tmp_path, capsys):
    cli(tmp_path, passes=1)
    ckpt = newest(tmp_path)
    (ckpt / "meta.json").write_bytes(b"\x00garbage" * 10)
    capsys.readouterr()
    assert cli(tmp_path, "--resume", str(ckpt)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(ckpt) in err[0] and "meta.json" in err[0]
    assert cli(tmp_path, "--resume", "auto") == 2  # the only one: reported, then nothing valid
    captured = capsys.readouterr()
    assert "skipping unusable checkpoint" in captured.out and "none of its 1" in captured.err


class CreatesFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_malicious_pickle_in_a_checkpoint_is_refused_without_running(tmp_path, capsys):
    cli(tmp_path, passes=1)
    ckpt, marker = newest(tmp_path), tmp_path / "pwned"
    payload = np.array([CreatesFile(str(marker))], dtype=object)
    assert b"pwned" in pickle.dumps(payload)
    buf = io.BytesIO()
    np.savez(buf, k_fixed_noise=payload)
    data = buf.getvalue()
    (ckpt / "arrays.npz").write_bytes(data)
    manifest = json.loads((ckpt / "manifest.json").read_text())  # as a deliberate attacker would
    manifest["files"]["arrays.npz"] = {"size": len(data),
                                       "sha256": hashlib.sha256(data).hexdigest()}
    (ckpt / "manifest.json").write_text(json.dumps(manifest))
    assert cli(tmp_path, "--resume", str(ckpt)) == 2
    assert str(ckpt) in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_resume_from_nothing_is_exit_2_naming_the_path(tmp_path, capsys, where):
    target = tmp_path / "nowhere"
    if where == "empty":
        (tmp_path / "checkpoints").mkdir()
        assert cli(tmp_path, "--resume", "auto") == 2
        target = tmp_path / "checkpoints"
    else:
        assert cli(tmp_path, "--resume", str(target)) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "Traceback" not in err
    assert not list_checkpoints(tmp_path / "checkpoints")  # nothing started from scratch


def test_resume_refuses_another_data_size_and_warns_on_batch_size(tmp_path, capsys):
    cli(tmp_path, passes=1)
    capsys.readouterr()
    code = main(["-d", "uniform", "--set", "data_size=2048", "--output_dir", str(tmp_path),
                 "--resume", "auto", "--iters_per_pass", str(ITERS)])
    assert code == 2 and "data_size=4096" in capsys.readouterr().err
    code = main(["-d", "uniform", "--set", "data_size=4096", "--output_dir", str(tmp_path),
                 "--resume", "auto", "--iters_per_pass", str(ITERS), "--num_passes", "2",
                 "--batch_size", "16", "--set", "plugins=[checkpoint]"])
    assert code == 0
    assert "changed settings: batch_size 32 -> 16" in capsys.readouterr().out


def test_packing_and_the_average_resume_bitwise_and_another_packing_is_refused(tmp_path,
                                                                               capsys):
    packed = ["--set", "packing=4", "--set", "ema.decay=0.95", "--set", "ema.start=5"]
    EVENTS.clear()
    assert cli(tmp_path / "one_go", *packed) == 0
    reference = list(EVENTS)
    EVENTS.clear()
    out = tmp_path / "stopped"
    assert cli(out, *packed, "--set", "plugin_options.resume_probe.kill_at=13") == 143
    assert cli(out, *packed, "--resume", "auto") == 0
    assert EVENTS == reference
    assert_same_train_state(newest(tmp_path / "one_go"), newest(out))
    arrays, _ = load_checkpoint(newest(out))  # what generate, evaluate and export load:
    average, trained = arrays["net/generator/gen.out.weight"], \
        arrays["net/gen_training/gen.out.weight"]
    assert not np.allclose(average, trained, rtol=1e-3)  # the average, not a copy of G
    capsys.readouterr()
    assert cli(out, "--set", "packing=2", "--set", "ema.decay=0.95", "--resume", "auto",
               passes=3) == 2
    err = capsys.readouterr().err
    assert "packing=4" in err and "packing=2" in err and err.count("\n") == 1


def test_yaml_with_a_python_tag_is_refused_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "marker"
    config = tmp_path / "evil.yaml"
    config.write_text(f'data: uniform\nseed: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert main(["--config", str(config), "--output_dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "evil.yaml" in err[0]
    assert not marker.exists()


def test_nan_stops_with_exit_3_and_leaves_the_last_good_checkpoint(tmp_path, capsys):
    nan_at = ITERS + 5  # pass 1, iteration 5
    code = cli(tmp_path, "--set", f"plugin_options.resume_probe.nan_at={nan_at}",
               "--set", "plugin_options.checkpoint.every_n_iters=2",
               plugins="[console, samples, checkpoint, resume_probe]")
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "'d_real' is nan" in err[0] and f"pass 1 iteration 5 (step {nan_at})" in err[0]
    last = newest(tmp_path)
    _, meta = load_checkpoint(last)  # loadable, and from before the bad step
    assert meta["saved_at"]["global_step"] == nan_at - 1
    assert all(np.isfinite(a).all() for a in load_checkpoint(last)[0].values()
               if a.dtype.kind == "f")
    samples = sorted(p.name for p in (tmp_path / "samples").glob("pass-*.png"))
    assert samples == ["pass-0000.png"]


def write_mnist(folder, count=16):
    """A tiny MNIST training split in IDX format (random digits-to-be)."""
    folder.mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 256, (count, 28, 28), dtype=np.uint8)
    (folder / "train-images-idx3-ubyte").write_bytes(
        struct.pack(">iIII", 2051, count, 28, 28) + pixels.tobytes())
    (folder / "train-labels-idx1-ubyte").write_bytes(
        struct.pack(">iI", 2049, count) + (np.arange(count) % 10).astype(np.uint8).tobytes())


def test_image_run_resumes_bitwise(tmp_path):
    data = tmp_path / "mnist"
    write_mnist(data)

    def image_cli(out, *extra):
        return main(["-d", "mnist", "--num_passes", "1", "--iters_per_pass", "7",
                     "--batch_size", "4", "--set", f"data_dir={data}",
                     "--set", "plugins=[checkpoint, resume_probe]", "--output_dir", str(out),
                     *extra])

    EVENTS.clear()
    assert image_cli(tmp_path / "a") == 0
    ref = list(EVENTS)
    EVENTS.clear()
    assert image_cli(tmp_path / "b", "--set", "plugin_options.resume_probe.kill_at=4") == 143
    assert image_cli(tmp_path / "b", "--resume", "auto") == 0
    assert EVENTS == ref
    assert_same_train_state(newest(tmp_path / "a"), newest(tmp_path / "b"))


def test_a_library_drawing_from_the_global_random_changes_nothing_saved(tmp_path):
    """botocore's retry jitter draws from Python's global `random`: the run's own stream is
    private, so what a checkpoint holds does not depend on it."""
    import random

    class Library(Plugin):
        name = "library"

        @dataclass
        class Options:
            pass

        def __init__(self, options):
            pass

        def on_step_end(self, state):
            random.random()

    if "library" not in PLUGINS.names():
        PLUGINS.register("library")(Library)
    assert cli(tmp_path / "quiet", plugins="[checkpoint]", passes=1) == 0
    assert cli(tmp_path / "busy", plugins="[checkpoint, library]", passes=1) == 0
    quiet, busy = (load_checkpoint(newest(tmp_path / run))[1] for run in ("quiet", "busy"))
    assert quiet["rng"] == busy["rng"]
