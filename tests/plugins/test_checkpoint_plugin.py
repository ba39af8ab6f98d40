"""The checkpoint plugin, the policy: when it saves (pass ends, every N iterations, a stop),
keep-last rotation that spares the checkpoint resumed from, and its options' ranges."""
from paddle_gan.checkpoint.files import list_checkpoints, load_checkpoint
from paddle_gan.cli.train import main
from paddle_gan.plugins.checkpoint import CheckpointPlugin
from paddle_gan.trainer import train
from tests.helpers import tiny_state


def plugin(every=0, keep=3):
    return CheckpointPlugin(CheckpointPlugin.Options(every_n_iters=every, keep_last=keep))


def names(tmp_path):
    return [p.name for p in list_checkpoints(tmp_path / "checkpoints")]


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
    # The older checkpoint resumed: a new line (-v2), whose rotation touches only its own.
    assert names(tmp_path) == ["step-00000008-pass-0000", "step-00000010-pass-0000",
                               "step-00000020-pass-0001-v2"]


def test_a_resume_that_branches_never_deletes_or_overwrites_and_auto_takes_the_newest_written(
        tmp_path, capsys):
    args = ["-d", "uniform", "--batch_size", "32", "--set", "data_size=4096",
            "--set", "plugins=[checkpoint]", "--set", "plugin_options.checkpoint.keep_last=20",
            "--set", "plugin_options.checkpoint.every_n_iters=1", "--output_dir", str(tmp_path)]
    assert main(args + ["--num_passes", "2", "--iters_per_pass", "5"]) == 0
    line1 = names(tmp_path)
    assert len(line1) == 10 and line1[-1] == "step-00000010-pass-0001"
    before = {name: (tmp_path / "checkpoints" / name / "arrays.npz").read_bytes()
              for name in line1}
    # An older checkpoint, resumed with another schedule (3 iterations a pass, not 5).
    older = tmp_path / "checkpoints" / "step-00000004-pass-0000"
    assert main(args + ["--num_passes", "2", "--iters_per_pass", "3", "--resume", str(older)]) == 0
    assert "this run writes a new line, 2" in capsys.readouterr().out
    branch = [name for name in names(tmp_path) if name.endswith("-v2")]
    # Resumed at iteration 4 of a 3-iteration pass: that pass ends at once, the next one has 3.
    assert branch == ["step-00000004-pass-0000-v2", "step-00000005-pass-0001-v2",
                      "step-00000006-pass-0001-v2", "step-00000007-pass-0001-v2"]
    assert names(tmp_path) == line1 + branch  # nothing of line 1 deleted...
    for name, data in before.items():  # ... or overwritten
        assert (tmp_path / "checkpoints" / name / "arrays.npz").read_bytes() == data
    # --resume auto continues the newest written (step 7 of line 2), not the highest step (10).
    assert main(args + ["--num_passes", "3", "--iters_per_pass", "3", "--resume", "auto"]) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "step-00000007-pass-0001-v2" in out
    assert "new line" not in out and names(tmp_path)[-1] == "step-00000010-pass-0002-v2"


def test_a_fresh_run_into_a_folder_holding_a_run_is_refused(tmp_path, capsys):
    args = ["-d", "uniform", "--num_passes", "1", "--iters_per_pass", "3", "--batch_size", "16",
            "--set", "data_size=256", "--set", "plugins=[checkpoint]",
            "--output_dir", str(tmp_path)]
    assert main(args) == 0
    kept = names(tmp_path)
    assert main(args + ["--seed", "7"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already holds a run" in err and "--resume auto" in err
    assert names(tmp_path) == kept


def test_bad_options_are_exit_2(tmp_path, capsys):
    code = main(["-d", "uniform", "--set", "plugins=[checkpoint]", "--output_dir", str(tmp_path),
                 "--set", "plugin_options.checkpoint.keep_last=0"])
    assert code == 2 and "keep_last" in capsys.readouterr().err
