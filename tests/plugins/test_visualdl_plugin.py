"""The visualdl plugin against the real VisualDL server, its resume contract and its fallback."""
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from paddle_gan.cli import train as cli
from paddle_gan.config import Settings
from paddle_gan.plugins import build_plugins
from paddle_gan.plugins.visualdl import VisualDLPlugin
from paddle_gan.render import png_to_rgb
from paddle_gan.state import StepResult

PER_ITER_TAGS = [
    "loss/d_real", "loss/d_fake", "loss/d", "loss/g", "scheduler/trained", "scheduler/strike",
    "speed/iters_per_s", "speed/samples_per_s",
]
PER_PASS_TAGS = ["pass/d_steps", "pass/g_steps"]
PASSES, ITERS = 2, 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, route: str, **params):
    query = urllib.parse.urlencode(params)
    url = f"http://127.0.0.1:{port}/app/api/{route}" + (f"?{query}" if query else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    return body if route == "image/image" else json.loads(body)


@pytest.fixture
def trained_run(tmp_path):
    out = tmp_path / "run"
    code = cli.main([
        "-d", "uniform", "--num_passes", str(PASSES), "--iters_per_pass", str(ITERS),
        "--batch_size", "32", "--output_dir", str(out), "--set", "data_size=2000",
        "--set", "plugins=[console,samples,visualdl]",
        "--set", "plugin_options.visualdl.every_n_iters=1",
        "--set", "plugin_options.visualdl.histogram_every_n_iters=10",
    ])
    assert code == 0
    return out


@pytest.fixture
def visualdl_server(trained_run, tmp_path):
    """The real `visualdl` server on 127.0.0.1 over the run's vdl dir; stopped afterwards."""
    port, logdir = free_port(), str(trained_run / "vdl")
    server_log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "visualdl.server.app", "--logdir", logdir, "--host", "127.0.0.1",
         "--port", str(port), "--disable-telemetry"],
        stdout=server_log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if logdir in get(port, "runs")["data"]:
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                server_log.flush()
                pytest.fail(f"no answer from visualdl: {(tmp_path / 'server.log').read_text()}")
            time.sleep(0.3)
        yield port, logdir
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server_log.close()


def test_real_server_serves_every_tag_with_the_right_points(visualdl_server, trained_run):
    port, run = visualdl_server
    total = PASSES * ITERS

    scalar_tags = get(port, "scalar/tags")["data"]
    assert scalar_tags["runs"] == [run]
    assert set(PER_ITER_TAGS + PER_PASS_TAGS) <= set(scalar_tags["tags"][0])
    for tag in PER_ITER_TAGS:
        points = get(port, "scalar/list", run=run, tag=tag)["data"]  # [walltime, step, value]
        assert [p[1] for p in points] == list(range(1, total + 1)), tag
    for tag in PER_PASS_TAGS:
        points = get(port, "scalar/list", run=run, tag=tag)["data"]
        assert [p[1] for p in points] == [ITERS, 2 * ITERS], tag
    d_steps = get(port, "scalar/list", run=run, tag="pass/d_steps")["data"]
    g_steps = get(port, "scalar/list", run=run, tag="pass/g_steps")["data"]
    assert [d[2] + g[2] for d, g in zip(d_steps, g_steps)] == [ITERS, ITERS]
    trained = get(port, "scalar/list", run=run, tag="scheduler/trained")["data"]
    assert {p[2] for p in trained} <= {0.0, 1.0}

    assert get(port, "image/tags")["data"]["tags"][0] == ["samples/fixed_noise"]
    images = get(port, "image/list", run=run, tag="samples/fixed_noise")["data"]
    assert [i["step"] for i in images] == [ITERS, 2 * ITERS]
    # The dashboard shows exactly the picture the samples plugin saved for that pass.
    served = get(port, "image/image", run=run, tag="samples/fixed_noise", index=1)
    saved = (trained_run / "samples" / "pass-0001.png").read_bytes()
    assert np.array_equal(png_to_rgb(served), png_to_rgb(saved))

    hist_tags = get(port, "histogram/tags")["data"]["tags"][0]
    assert "params/gen.hidden.weight" in hist_tags and "params/dis.out.bias" in hist_tags
    hist = get(port, "histogram/list", run=run, tag="params/gen.hidden.weight")["data"]
    assert [h[1] for h in hist] == [10, 20, 30, 40]

    (hparams,) = get(port, "hparams/list")["data"]
    assert hparams["hparams"]["batch_size"] == 32
    assert hparams["hparams"]["plugin_options.visualdl.every_n_iters"] == 1
    assert {"loss/d", "loss/g"} <= set(hparams["metrics"])
    assert get(port, "text/tags")["data"]["tags"][0] == ["config"]


@dataclass
class FakeState:
    """The fields the plugin reads on its scalar path; enough to test resume without training."""

    output_dir: Path
    settings: Settings = field(default_factory=lambda: Settings(batch_size=4))
    global_step: int = 0
    result: StepResult = field(default_factory=StepResult)
    strike: int = 1
    metrics: dict = None


def run_steps(plugin, state, steps):
    plugin.on_train_start(state)
    for step in steps:
        state.global_step = step
        state.result = StepResult("dis", {"d_real": 0.1, "d_fake": 0.2, "d": 0.15,
                                          "g": float(step)})
        plugin.on_step_end(state)


def test_resume_appends_to_the_same_file_and_steps_continue(tmp_path):
    from visualdl import LogReader

    options = VisualDLPlugin.Options(every_n_iters=2)
    first = VisualDLPlugin(options)
    state = FakeState(output_dir=tmp_path)
    run_steps(first, state, range(1, 7))
    saved = json.loads(json.dumps(first.state_dict()))  # what a checkpoint would keep
    first.close()

    resumed = VisualDLPlugin(options)
    resumed.load_state_dict(saved)  # the run restores plugins before training starts
    run_steps(resumed, state, range(7, 11))
    resumed.close()

    (record_file,) = (tmp_path / "vdl").iterdir()
    reader = LogReader(file_path=str(record_file))
    assert [r.id for r in reader.get_data("scalar", "loss/g")] == [2, 4, 6, 8, 10]
    assert len(reader.get_data("text", "config")) == 1  # settings recorded once


@pytest.mark.parametrize("plugins", ["[samples,visualdl,metrics,checkpoint]",
                                     "[samples,metrics,visualdl,checkpoint]"])
def test_real_resume_continues_the_curves_and_charts_the_metrics(tmp_path, plugins):
    from visualdl import LogReader

    out = tmp_path / "run"
    args = [
        "-d", "uniform", "--iters_per_pass", "10", "--batch_size", "16", "--output_dir", str(out),
        "--set", "data_size=500", "--set", f"plugins={plugins}",
        "--set", "plugin_options.visualdl.every_n_iters=1",
        "--set", "plugin_options.metrics.n_samples=200",
    ]
    assert cli.main(args + ["--num_passes", "1"]) == 0
    assert cli.main(args + ["--num_passes", "2", "--resume", "auto"]) == 0

    (record_file,) = (out / "vdl").iterdir()
    reader = LogReader(file_path=str(record_file))
    assert [r.id for r in reader.get_data("scalar", "loss/d")] == list(range(1, 21))
    assert [r.id for r in reader.get_data("image", "samples/fixed_noise")] == [10, 20]
    assert len(reader.get_data("text", "config")) == 1
    # The metrics plugin's results, in whichever order the two plugins run, at their steps.
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for name in ("inside", "coverage", "sliced_w1", "ks"):
        charted = reader.get_data("scalar", f"metrics/{name}")
        assert [r.id for r in charted] == [10, 20]
        assert [r.value for r in charted] == pytest.approx([m[name] for m in logged]), name


def test_visualdl_missing_training_runs_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "visualdl", None)  # `import visualdl` now fails
    out = tmp_path / "run"
    code = cli.main([
        "-d", "uniform", "--num_passes", "1", "--iters_per_pass", "5", "--batch_size", "16",
        "--output_dir", str(out), "--set", "data_size=500", "--set", "plugins=[visualdl]",
        "--set", "plugin_options.visualdl.every_n_iters=1",
    ])
    assert code == 0
    lines = (out / "train.log").read_text().splitlines()
    assert len([line for line in lines if "visualdl plugin disabled" in line]) == 1
    assert not (out / "vdl").exists()


def test_only_rank_0_gets_the_plugin():
    assert build_plugins(["visualdl"], {}, is_writer=False) == []
    assert isinstance(build_plugins(["visualdl"], {}, is_writer=True)[0], VisualDLPlugin)
