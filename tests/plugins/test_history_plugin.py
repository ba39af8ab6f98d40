"""The history plugin on tiny conditional runs: a table, a JSON line and VisualDL curves per
pass; the training means are the pass's logged losses; the test losses are measured in inference
mode with the plugin's own randomness (training is bit for bit the same without it); a resumed
run writes the same history; data without a test split trains on with one line."""
import json

import numpy as np
import pytest

import paddle_gan.plugins.history as history
from paddle_gan.checkpoint.files import load_checkpoint
from paddle_gan.cli.train import main
from paddle_gan.plugins.history import HistoryPlugin
from paddle_gan.run import build_state
from tests.helpers import (
    EVENTS,
    REPO_ROOT,
    conditional_conf,
    conditional_settings,
    newest,
    step_once,
    tiny_mnist,
)

TERMS = {"d_real", "d_fake", "d", "g", "d_aux", "g_aux"}


@pytest.fixture
def data(tmp_path):
    folder = tiny_mnist(tmp_path / "mnist", count=40)
    return tiny_mnist(folder, count=24, seed=1, split="test")


def run(conf, data, out, plugins, *extra, passes=2):
    return main(["-d", "mnist", "--num_passes", str(passes), "--iters_per_pass", "4",
                 "--batch_size", "8", "--set", f"conf={conf}", "--set", f"data_dir={data}",
                 "--set", "scheduler.name=alternate", "--set", f"plugins=[{plugins}]",
                 "--set", "plugin_options.visualdl.every_n_iters=1",
                 "--output_dir", str(out), *extra])


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_table_a_json_line_and_curves_per_pass(tmp_path, data, capsys):
    from visualdl import LogReader

    conf = conditional_conf(tmp_path / "c.py", dropout=0.0)
    EVENTS.clear()
    assert run(conf, data, tmp_path / "run", "checkpoint, history, visualdl, resume_probe") == 0
    out = capsys.readouterr().out
    assert "pass 1 history (24 real test samples" in out
    assert "    generator (test)" in out and "    discriminator (train)" in out
    records = lines(tmp_path / "run" / "history.jsonl")
    assert [r["pass"] for r in records] == [0, 1] and [r["global_step"] for r in records] == [4, 8]
    steps = [dict(event[3]) for event in EVENTS if event[0] == "step"]
    for record, logged in zip(records, (steps[:4], steps[4:])):
        assert set(record["train"]) == set(record["test"]) == TERMS
        for name in TERMS:  # the training means are the pass's logged losses
            assert record["train"][name] == pytest.approx(np.mean([s[name] for s in logged]))
        assert record["test_samples"] == {"real": 24, "generated": 24, "noise": 48}
    (record_file,) = (tmp_path / "run" / "vdl").iterdir()
    reader = LogReader(file_path=str(record_file))
    for split in ("train", "test"):
        charted = reader.get_data("scalar", f"history/{split}/d_aux")
        assert [r.id for r in charted] == [4, 8]
        assert [r.value for r in charted] == pytest.approx([r[split]["d_aux"] for r in records])


def test_each_training_mean_is_over_the_steps_that_computed_the_term(tmp_path, data):
    conf = conditional_conf(tmp_path / "c.py", dropout=0.0)
    EVENTS.clear()
    assert run(conf, data, tmp_path / "run", "history, resume_probe", "--set",
               "scheduler.d_steps=2", passes=1) == 0
    (record,) = lines(tmp_path / "run" / "history.jsonl")
    steps = [(event[2], dict(event[3])) for event in EVENTS if event[0] == "step"]
    assert [decision for decision, _ in steps] == ["dis", "dis", "gen", "dis"]
    d_steps = [logged for decision, logged in steps if decision == "dis"]
    for name in ("d_real", "d_fake", "d", "d_aux"):  # the G step only carried them
        assert record["train"][name] == pytest.approx(np.mean([s[name] for s in d_steps]))
    for name in ("g", "g_aux"):  # computed on every step
        assert record["train"][name] == pytest.approx(np.mean([s[name] for _, s in steps]))


def test_training_is_bit_for_bit_the_same_without_it(tmp_path, data):
    conf = conditional_conf(tmp_path / "c.py")  # dropout on: eval mode must not draw from it
    assert run(conf, data, tmp_path / "with", "checkpoint, history") == 0
    assert run(conf, data, tmp_path / "without", "checkpoint") == 0
    (arrays_a, meta_a), (arrays_b, meta_b) = (load_checkpoint(newest(tmp_path / run))
                                              for run in ("with", "without"))
    assert all(arrays_a[key].tobytes() == arrays_b[key].tobytes() for key in arrays_a)
    assert meta_a["rng"] == meta_b["rng"] and meta_a["counters"] == meta_b["counters"]


def test_the_test_losses_are_in_inference_mode_and_their_own_chunks(tmp_path, data, monkeypatch):
    conf = conditional_conf(tmp_path / "c.py", dropout=0.5)
    state = build_state(conditional_settings(conf, data, iters=2), tmp_path)
    plugin = HistoryPlugin(HistoryPlugin.Options(n_real=20))
    plugin.on_train_start(state)
    step_once(state)
    was_training = state.nets.dis_training.training
    first = plugin._test_losses(state, 20)
    assert plugin._test_losses(state, 20) == first  # no dropout, its own seeded noise
    assert state.nets.dis_training.training == was_training
    monkeypatch.setattr(history, "CHUNK", 7)  # 20 real in chunks of 7, 7, 6: the same means
    for name, value in plugin._test_losses(state, 20).items():
        assert value == pytest.approx(first[name], rel=1e-5), name


def test_a_resumed_run_writes_the_same_history(tmp_path, data):
    conf = conditional_conf(tmp_path / "c.py", dropout=0.0)
    plugins = "checkpoint, history, resume_probe"
    assert run(conf, data, tmp_path / "a", plugins) == 0
    assert run(conf, data, tmp_path / "b", plugins,
               "--set", "plugin_options.resume_probe.kill_at=2") == 143
    assert run(conf, data, tmp_path / "b", plugins, "--resume", "auto") == 0
    assert lines(tmp_path / "a" / "history.jsonl") == lines(tmp_path / "b" / "history.jsonl")


def test_data_without_a_test_split_trains_on_with_one_line(tmp_path, capsys):
    assert main(["-d", "uniform", "--num_passes", "1", "--iters_per_pass", "3", "--batch_size",
                 "16", "--set", "data_size=256", "--set", "plugins=[history]",
                 "--output_dir", str(tmp_path / "u")]) == 0
    assert "history plugin disabled: data uniform has no test split" in capsys.readouterr().out
    assert not (tmp_path / "u" / "history.jsonl").exists()
    train_only = tiny_mnist(tmp_path / "train_only", count=40)
    conf = conditional_conf(tmp_path / "c.py")
    assert run(conf, train_only, tmp_path / "m", "history", passes=1) == 0
    assert "history plugin disabled: no test split" in capsys.readouterr().out


def test_a_packed_discriminator_is_tested_on_whole_packs(tmp_path, data, capsys):
    """24 test images, D judging them 5 at a time: the 20 that fill packs."""
    conf = REPO_ROOT / "conf" / "mlp_gan.py"
    assert run(conf, data, tmp_path / "run", "history", "--set", "packing=5",
               "--batch_size", "10", passes=1) == 0
    (record,) = lines(tmp_path / "run" / "history.jsonl")
    assert record["test_samples"] == {"real": 20, "generated": 20, "noise": 40}
    assert all(np.isfinite(value) for value in record["test"].values())
    assert "pass 0 history (20 real test samples" in capsys.readouterr().out
