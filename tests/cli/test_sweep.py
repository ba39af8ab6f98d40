"""paddle-gan sweep: a tiny grid trained as separate processes, its table and panel, finished cells
skipped on a second run, a cell stopped half-way resumed, and bad input (a sweep file with an
unknown key or value, an unknown metric, another sweep's folder) as one line and exit 2."""
import json

import pytest

from paddle_gan.cli import sweep
from tests.helpers import REPO_ROOT

TINY = ["--set", "num_passes=1", "--set", "iters_per_pass=4", "--set", "batch_size=16",
        "--set", "data_size=256", "--set", "plugins=[samples, metrics, checkpoint]",
        "--set", "plugin_options.metrics.n_samples=200"]


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A 2x2 sweep (uniform and ring, two seeds), trained two at a time."""
    out = tmp_path_factory.mktemp("sweep") / "toy"
    args = ["--grid", "data=uniform,ring", "--grid", "seed=1,2", *TINY, "--output_dir", str(out),
            "--jobs", "2"]
    assert sweep.main(args) == 0
    return out, args


def test_every_cell_is_a_run_and_the_table_summarises_them(finished):
    out, _ = finished
    cells = sorted(p.name for p in (out / "cells").iterdir())
    assert cells == ["data=ring,seed=1", "data=ring,seed=2", "data=uniform,seed=1",
                     "data=uniform,seed=2"]
    record = json.loads((out / "cells" / "data=ring,seed=2" / "sweep-cell.json").read_text())
    assert (record["status"], record["exit_code"], record["cell"]) == (
        "done", 0, {"data": "ring", "seed": 2})
    assert record["metrics"]["pass"] == 0 and record["metrics"]["n_samples"] == 200
    config = (out / "cells" / "data=ring,seed=2" / "config.yaml").read_text()
    assert "seed: 2" in config and "iters_per_pass: 4" in config  # --set reached the cell
    table = (out / "results.md").read_text()
    assert "| data | seeds | inside | coverage | sliced_w1 | ks | modes | high_quality |" in table
    assert "| uniform | 2/2 | " in table and "| ring | 2/2 | - | - | " in table
    assert " ± " in table and "| ring | - | - | " in table  # spread; the real-data rows
    assert (out / "samples.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "sweep.json").read_text())["grid"] == {
        "data": ["uniform", "ring"], "seed": [1, 2]}


def test_a_second_run_skips_finished_cells_and_resumes_a_stopped_one(finished, capsys):
    out, args = finished
    stopped = out / "cells" / "data=uniform,seed=1"
    (stopped / "sweep-cell.json").unlink()  # as if stopped after its last checkpoint
    log = (stopped / "train.log").read_text()
    capsys.readouterr()
    assert sweep.main(args) == 0
    printed = capsys.readouterr().out
    assert "4 cells, 3 finished already, 1 to train" in printed
    assert "data=uniform,seed=1: done" in printed
    resumed = (stopped / "train.log").read_text()[len(log):]
    assert "resum" in resumed  # --resume auto: it continued from its checkpoint


def test_another_sweeps_folder_is_refused(finished, tmp_path, capsys):
    out, _ = finished
    assert sweep.main(["--grid", "data=uniform", "--grid", "seed=1,2,3", *TINY,
                       "--output_dir", str(out)]) == 2
    assert "holds another sweep" in error_line(capsys)
    (tmp_path / "mine.txt").write_text("not a sweep")
    assert sweep.main(["--grid", "data=uniform", *TINY, "--output_dir", str(tmp_path)]) == 2
    assert "is not a sweep folder" in error_line(capsys)
    assert not (tmp_path / "sweep.json").exists()


@pytest.mark.parametrize("text, message", [
    ("grid: {data: [uniform]}\nseeds: [1, 2]\n", "unknown key 'seeds'"),
    ("grid: {data: [uniform], scheduler.name: [loss_based, sometimes]}\n",
     "unknown scheduler 'sometimes'"),
    ("grid: {data: [uniform], optimizer.momentun: [0.9]}\n",
     "unknown setting 'optimizer.momentun'"),
    ("grid: {data: [uniform], seed: 3}\n", "grid axis 'seed' must be a non-empty list"),
    ("grid: {data: [uniform]}\nset: {seed: -1}\n", "seed must be at least 0"),
    ("grid: {seed: [1]}\n", "say which data"),
    ("grid: {data: [uniform]}\nmetrics: [inside, fid]\n", "unknown metric 'fid'"),
    ("grid: [uniform]\n", "grid and set must be mappings"),
    ("grid: {data: [uniform, ring, uniform]}\n", "repeats a value"),
])
def test_a_bad_sweep_file_is_one_line_and_exit_2(tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert sweep.main([str(path), "--output_dir", str(tmp_path / "out")]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "out").exists()  # nothing was started


def test_bad_flags_are_one_line_and_exit_2(tmp_path, capsys):
    out = ["--output_dir", str(tmp_path / "out")]
    assert sweep.main(["--grid", "data=uniform", "--metrics", "inside,bogus", *out]) == 2
    assert "unknown metric 'bogus'" in error_line(capsys)
    assert sweep.main(["--grid", "data", *out]) == 2
    assert "--grid takes KEY=V1,V2" in error_line(capsys)
    assert sweep.main(["--grid", "data=uniform", "--set", "seed=1", "--grid", "seed=1,2",
                       *out]) == 2
    assert "'seed' is both a grid axis and a shared setting" in error_line(capsys)
    assert sweep.main(["--grid", "data=uniform", "--jobs", "0", *out]) == 2
    assert "--jobs must be at least 1" in error_line(capsys)


def test_the_shipped_toy_sweeps_are_valid(capsys):
    assert sweep.main([str(REPO_ROOT / "conf" / "sweeps" / "toy.yaml"), "--dry_run"]) == 0
    cells = capsys.readouterr().out.splitlines()
    assert len(cells) == 3 * 4 * 2 * 3  # data x loss x scheduler x seed
    assert cells[0].startswith("data=uniform,") and "scheduler.name=alternate" in cells[-1]
    assert sweep.main([str(REPO_ROOT / "conf" / "sweeps" / "toy_critic.yaml"), "--dry_run"]) == 0
    cells = capsys.readouterr().out.splitlines()
    assert len(cells) == 3 * 2 * 3 and "loss.name=wgan_gp" in cells[-1]


def test_a_cell_the_trainer_would_refuse_is_refused_before_anything_trains(tmp_path, capsys):
    """Each setting in range, the combination not: R1 is for the logistic losses."""
    assert sweep.main(["--grid", "data=ring", "--grid", "loss.name=non_saturating,lsgan",
                       "--set", "loss.r1_gamma=0.1", "--output_dir", str(tmp_path / "s")]) == 2
    assert "cell data=ring,loss.name=lsgan: loss lsgan: loss.real_label and loss.r1_gamma are " \
        "for the logistic losses" in error_line(capsys)
    assert not (tmp_path / "s").exists()
