"""The run folder's promises, each failure class reproduced: two runs on one folder, write
failures (a file in the way, a read-only folder, a full disk, a file size limit, a picture that
cannot be written), divergence found before anything of the pass is drawn, hostile inputs
(huge seeds, NaN settings, data beyond memory, bad YAML, a link among the checkpoints, Ctrl-C
during start-up) and the notices for surprising silences. Each ends in one line and a
documented exit code, and what was saved before stays loadable."""
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pytest

from paddle_gan.checkpoint.files import list_checkpoints, load_checkpoint
from paddle_gan.cli.train import main
from paddle_gan.plugins.base import Plugin
from paddle_gan.registry import PLUGINS
from tests.helpers import REPO_ROOT

TRAINER = str(REPO_ROOT / "tools" / "gan_trainer.py")


def args(out, *extra, passes=2, iters=5, plugins="[console,checkpoint]"):
    return ["-d", "uniform", "--num_passes", str(passes), "--iters_per_pass", str(iters),
            "--batch_size", "16", "--set", "data_size=512", "--set", f"plugins={plugins}",
            "--set", "plugin_options.console.every_n_iters=100", "--output_dir", str(out),
            *extra]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def names(out):
    return [p.name for p in list_checkpoints(out / "checkpoints")]


# --- one run per folder ------------------------------------------------------------------------

def wait_for(path, text, process, seconds=60):
    """Until `path` holds `text` (the run got that far)."""
    deadline = time.monotonic() + seconds
    while not (path.is_file() and text in path.read_text()):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)


def test_a_second_run_on_a_busy_folder_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, TRAINER, *args(out, "--seed", "1", iters=100_000)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(out / "train.log", "starting at pass 0", first)
        second = subprocess.run([sys.executable, TRAINER, *args(out, "--seed", "2")],
                                capture_output=True, text=True)
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert second.stderr.strip().splitlines() == [
            f"error: output dir {out} is in use by another run (PID {first.pid} on host "
            f"{os.uname().nodename}, since " + second.stderr.split(", since ")[1].strip()]
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 143
    # The folder holds the first run's files alone: its settings, its checkpoint.
    config = (out / "config.yaml").read_text()
    assert "seed: 1\n" in config
    (saved,) = names(out)
    assert load_checkpoint(out / "checkpoints" / saved)[1]["settings"]["seed"] == 1


# --- write failures ----------------------------------------------------------------------------

def test_an_output_dir_that_is_a_file_or_lies_under_one_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert main(args(tmp_path / "file")) == 2
    assert "cannot write output dir" in one_error_line(capsys)
    assert main(args(tmp_path / "file" / "run")) == 2
    assert "a part of the path is a file, not a folder" in one_error_line(capsys)


@pytest.fixture
def tmpfs(tmp_path):
    """A small file system of our own (root only: mount), unmounted afterwards."""
    mounted = []

    def mount(size_kb: int, read_only: bool = False):
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        options = f"size={size_kb}k" + (",ro" if read_only else "")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                                capture_output=True)
        if result.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_read_only_folder_is_one_line(tmp_path, tmpfs, capsys):
    if os.geteuid() == 0:
        folder = tmpfs(64, read_only=True)
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    assert main(args(folder / "run")) == 2
    line = one_error_line(capsys)
    assert "cannot write output dir" in line and ("read-only" in line or "permission" in line)


def test_a_full_disk_during_a_checkpoint_is_one_line_and_the_last_good_one_loads(tmpfs, capsys):
    disk = tmpfs(330)  # room for two checkpoints of this run, not three
    out = disk / "run"
    code = main(args(out, "--set", "plugin_options.checkpoint.keep_last=10", passes=5))
    line = one_error_line(capsys)
    assert code == 2 and "cannot write checkpoint" in line and "(ENOSPC)" in line
    saved = names(out)
    assert saved and all(load_checkpoint(out / "checkpoints" / n) for n in saved)
    assert [p.name for p in (out / "checkpoints").iterdir() if p.name.startswith(".")] == []
    assert (out / "train.log").read_text().splitlines()[-1].endswith(line)


def test_a_file_size_limit_during_a_checkpoint_is_one_line(tmp_path):
    # RLIMIT_FSIZE: a write past 20 KB fails with EFBIG, as a full disk would, without root.
    script = ("import resource, signal, sys, runpy; signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000));"
              f"sys.argv = {[TRAINER, *args(tmp_path / 'run')]!r};"
              f"runpy.run_path({TRAINER!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot write checkpoint")
    assert "EFBIG" in result.stderr and "Traceback" not in result.stderr
    assert names(tmp_path / "run") == []


def test_a_picture_that_cannot_be_written_loses_no_training(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "samples" / "pass-0001.png").mkdir(parents=True)  # something in the picture's way
    code = main(args(out, plugins="[console,samples,checkpoint]"))
    line = one_error_line(capsys)
    assert code == 2 and f"cannot write sample picture {out / 'samples' / 'pass-0001.png'}" in line
    # The pass's checkpoint was written before its picture: all its training is kept.
    assert names(out) == ["step-00000005-pass-0000", "step-00000010-pass-0001"]
    shutil.rmtree(out / "samples" / "pass-0001.png")
    plugins = "[console,samples,checkpoint]"
    assert main(args(out, "--resume", "auto", passes=3, plugins=plugins)) == 0
    assert (out / "samples" / "pass-0002.png").is_file()


# --- divergence --------------------------------------------------------------------------------

@PLUGINS.register("poison_after_sync")
class PoisonAfterSync(Plugin):
    """Turns one of D's weights NaN after the sync of step `at`: the losses of that step were
    finite, so only a check of the parameters can find it."""

    writes_files = False

    @dataclass
    class Options:
        at: int = 0

    def __init__(self, options):
        self.at = options.at

    def on_sync(self, state):
        if state.global_step == self.at:
            for net in (state.nets.gen_training, state.nets.dis_training):
                weight = dict(net.named_parameters())["dis.hidden.weight"]
                weight.set_value(np.full(weight.shape, np.nan, np.float32))


def test_a_nan_parameter_is_found_before_anything_of_the_pass_is_drawn(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(args(out, "--set", "plugin_options.poison_after_sync.at=5",
                     plugins="[console,samples,metrics,poison_after_sync]"))
    line = one_error_line(capsys)
    assert code == 3 and "parameter 'gen_training/dis.hidden.weight' is NaN/Inf" in line
    assert not (out / "samples" / "pass-0000.png").exists()
    assert not (out / "metrics.jsonl").exists()
    assert (out / "train.log").read_text().splitlines()[-1].endswith(line)


# --- hostile or odd inputs ---------------------------------------------------------------------

@pytest.mark.parametrize("extra, says", [
    (["--seed", "99999999999999999999"], "seed must be at most 4294967295"),
    (["--set", "optimizer.learning_rate=.nan"], "optimizer.learning_rate must be a finite number"),
    (["--set", "optimizer.beta1=.inf"], "optimizer.beta1 must be a finite number"),
    (["--set", "data_size=1000000000000"], "GB of memory, but only"),
    (["--set", "data_size=100000000000000"], "data_size must be at most"),
    (["--set", "plugin_options.metrics.n_samples=1e400"], "must be int"),
])
def test_hostile_settings_are_one_line(tmp_path, capsys, extra, says):
    assert main(args(tmp_path / "run", *extra)) == 2
    assert says in one_error_line(capsys)


@pytest.mark.parametrize("content, says", [
    (b"\xff\xfe\x00bad", "is not UTF-8 text"),
    (b"a: [b, c", "not valid YAML"),
    (b"[" * 200_000, "nested too deeply"),
    (b"# " + b"x" * (2 << 20), "larger than 1 MB"),
], ids=["not-utf8", "unclosed", "deep", "huge"])
def test_hostile_yaml_is_one_line(tmp_path, capsys, content, says):
    config = tmp_path / "run.yaml"
    config.write_bytes(content)
    assert main(["--config", str(config), "--output_dir", str(tmp_path / "run")]) == 2
    assert says in one_error_line(capsys)


def test_a_link_among_the_checkpoints_is_never_followed_or_deleted(tmp_path):
    out = tmp_path / "run"
    assert main(args(out, passes=1)) == 0
    elsewhere = tmp_path / "keep" / "step-00000099-pass-0009"
    shutil.copytree(out / "checkpoints" / "step-00000005-pass-0000", elsewhere)
    (out / "checkpoints" / "step-00000001-pass-0000").symlink_to(elsewhere)
    assert main(args(out, "--resume", "auto", "--set", "plugin_options.checkpoint.keep_last=1",
                     passes=3)) == 0
    assert load_checkpoint(elsewhere)  # the link's target is intact
    # keep_last=1 spared the checkpoint resumed from, and the link was never listed
    assert names(out) == ["step-00000005-pass-0000", "step-00000015-pass-0002"]
    assert (out / "checkpoints" / "step-00000001-pass-0000").is_symlink()


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.0, 1.5])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path, delay):
    # Python itself starts in about 0.15 s here; from then on the trainer handles the signal.
    process = subprocess.Popen([sys.executable, TRAINER, *args(tmp_path / "run", iters=100_000)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err, err
    if "SIGINT received" not in out:  # still starting: one line, nothing saved
        assert err.strip().splitlines() == ["stopped by SIGINT; nothing was saved"]


# --- leftovers and silences --------------------------------------------------------------------

def test_leftovers_of_an_interrupted_save_are_removed_at_the_next_start(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(args(out, passes=1)) == 0
    leftover = out / "checkpoints" / f".step-00000007-pass-0001.tmp-{2**22 + 7}"
    leftover.mkdir()
    (leftover / "arrays.npz").write_bytes(bytes(1 << 20))
    assert main(args(out, "--resume", "auto", passes=2)) == 0
    assert not leftover.exists()
    assert f"removed {leftover.name}, left by an interrupted save" in capsys.readouterr().out


def test_surprising_silences_get_a_notice(tmp_path, capsys):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert main(["--config", str(empty), "--num_passes", "1", "--iters_per_pass", "2",
                 "--batch_size", "16", "--set", "data_size=256", "--set", "plugins=[]",
                 "--output_dir", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert f"{empty} holds no settings" in out
    assert "no plugins: this run prints, draws and saves nothing" in out
    assert main(args(tmp_path / "b", plugins="[console]", passes=1)) == 0
    assert "no checkpoint plugin: this run saves no checkpoints" in capsys.readouterr().out


def test_sigterm_without_the_checkpoint_plugin_says_nothing_is_saved(tmp_path):
    process = subprocess.Popen(
        [sys.executable, TRAINER, *args(tmp_path / "run", plugins="[console]", iters=100_000)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while "starting at pass 0" not in (tmp_path / "run" / "train.log").read_text() if (
            tmp_path / "run" / "train.log").exists() else True:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "SIGTERM received: stopping after the current step (nothing will be saved: no " \
           "checkpoint plugin)" in out
