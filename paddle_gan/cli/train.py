"""`paddle-gan train` (and `python tools/gan_trainer.py`): flags -> settings -> run.

Exit codes as every subcommand's (`paddle_gan.cli`): 2 bad usage, config, data, checkpoint or
device; 3 training diverged (a NaN/Inf loss or parameter, or data-parallel ranks that differ); 4
another process of a data-parallel run stopped; 130 / 143 stopped by SIGINT / SIGTERM after the
current step.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import List, Optional

from .. import runtime, signals, storage
from ..config import resolve_settings, resource_path
from ..distributed import launched_world
from ..errors import DataError
from ..registry import DATASETS, EXECUTIONS, PLUGINS, SCHEDULERS
from . import EXIT_OK, EXIT_SIGNAL, guarded, log_to_terminal

EPILOG = """\
Flags override the YAML run config, which overrides the conf module's defaults. Other settings
by their dotted names with --set: optimizer.learning_rate|beta1|beta2, scheduler.name
({schedulers}), scheduler.max_strike|d_steps|g_steps, data_size, data_dir, verify_data
(false: train on MNIST/CIFAR look-alikes of the official file sizes), ring.modes|radius|sigma
and grid.side|spacing|sigma (the layout of the 2-D mixtures),
execution ({executions}; fast is the default, plain the literal v1 step with Paddle's own
layers, for debugging), plugins (e.g. '[console,samples]'), plugin_options.<plugin>.<option>,
storage_options.<name> (fsspec's options for URLs: credentials, endpoint_url; masked wherever
settings are written), remote_cache (where URLs are cached and staged; default output/remote).
data_dir, --output_dir and --resume take s3://, hdfs:// and webhdfs:// URLs (pip install -e
".[remote]"; docs/storage.md).
Plugins: {plugins} (options: docs/settings.md).
Data sources: {datasets}; a package adds its own through entry points (docs/extending.md).

Exit codes: 0 done, 2 bad usage/config/data/checkpoint/device/output folder (one line), 3
diverged (NaN/Inf, or data-parallel ranks that differ), 4 another process of a data-parallel run
stopped, 130/143 stopped by SIGINT/SIGTERM (after saving a checkpoint, when the checkpoint plugin
is on).
Data-parallel: python -m paddle.distributed.launch --nproc_per_node N tools/gan_trainer.py ...
(docs/distributed.md; batch_split says how batch_size is shared).

More commands: paddle-gan generate (samples from a checkpoint), export (inference model),
evaluate (metrics of a checkpoint), sweep (a grid of runs), benchmark (speed and memory),
train-classifier (the MNIST feature extractor); each has --help (paddle-gan --help lists them).
"""


def count_or_epoch(text: str):
    try:
        return text if text == "epoch" else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or epoch, got {text!r}") from None


def build_parser(prog: str = "paddle-gan train") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train the PaddlePaddle v1 demo GANs: 2-D points (the uniform square, a "
        "ring or a grid of Gaussians), MNIST or CIFAR-10.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG.format(schedulers="|".join(SCHEDULERS.names()),
                             executions="|".join(EXECUTIONS.names()),
                             plugins=", ".join(PLUGINS.names()),
                             datasets=", ".join(DATASETS.names())),
    )
    add = parser.add_argument
    add("-d", "--data", metavar="|".join(DATASETS.names()),
        help="data source; picks conf/<d>.yaml when there is one")
    add("--config", metavar="YAML", help="run config (default: conf/<data>.yaml)")
    add("--use_gpu", type=int, choices=(0, 1), help="1: GPU (needs paddlepaddle-gpu), 0: CPU; "
        "default: the GPU when the build and a device are there")
    add("--gpu_id", type=int, metavar="N", help="which GPU (default 0)")
    add("--num_passes", type=int, metavar="N", help="passes to train (default: the run config's)")
    add("--iters_per_pass", type=count_or_epoch, metavar="N|epoch",
        help="iterations a pass (a picture, metrics and a checkpoint after each); epoch: as "
        "many as the data has whole batches")
    add("--batch_size", type=int, metavar="N", help="samples a batch (v1: 128)")
    add("--seed", type=int, metavar="N", help="same seed, same results (on the CPU)")
    add("--output_dir", metavar="DIR", help="default: output/<data>; or a URL (s3://, hdfs://, "
        "webhdfs://): staged locally, uploaded in the background")
    add("--resume", metavar="auto|PATH", help="continue from the newest checkpoint or PATH (a "
        "checkpoint folder, or its URL)")
    add("--download", action="store_true", help="fetch the data first (data/get_<d>_data.sh)")
    add("--set", action="append", default=[], metavar="KEY=VALUE",
        help="any setting, e.g. --set scheduler.name=alternate --set optimizer.beta1=0.9")
    return parser


def settings_from_args(args: argparse.Namespace, notes: Optional[List[str]] = None):
    flags = {
        "gpu_id": args.gpu_id,
        "num_passes": args.num_passes,
        "iters_per_pass": args.iters_per_pass,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "output_dir": args.output_dir,
        "resume": args.resume,
        "use_gpu": None if args.use_gpu is None else bool(args.use_gpu),
    }
    return resolve_settings(args.config, args.set, flags, args.data, notes)


def download(settings) -> None:
    """data/get_<d>_data.sh into the run's data dir; a failure is one line that says how to use
    a copy the machine already has."""
    script = {"mnist": "get_mnist_data.sh", "cifar": "get_cifar_data.sh"}.get(settings.data)
    if script is None:
        return
    env = dict(os.environ)
    variable = settings.data.upper()
    # where the run reads it (the scripts' own default is beside them: an installed package's)
    env[f"{variable}_DIR"] = str(settings.resolved_data_dir().resolve())
    upload = storage.is_remote(settings.data_dir)
    if upload:  # fetched into the cache, then sent to the store
        env[f"{variable}_UPLOAD"] = settings.data_dir
        env["PYTHON"] = sys.executable
    result = subprocess.run(["bash", str(resource_path("data", script))], env=env)
    if result.returncode != 0:
        raise DataError(
            f"data/{script} could not fetch {settings.data}{' or upload it' if upload else ''} "
            f"(exit {result.returncode}, its reason above); without a network, put the files in a "
            "folder and run "
            f"`{variable}_SOURCE=FOLDER bash data/{script}`, or point --set data_dir=FOLDER at "
            "them (docs/images.md)")


def main(argv: Optional[List[str]] = None, prog: str = "paddle-gan train") -> int:
    # Until the run installs its own handlers (stop after the current step), a signal stops at
    # once: nothing is saved before training starts.
    previous = signals.stop_at_once()
    try:
        return guarded(lambda: _main(argv, prog))
    finally:
        if launched_world()[1] == 1:  # a failing launched worker: signals.py
            signals.restore(previous)


def _main(argv: Optional[List[str]], prog: str) -> int:
    notes = [f"cpu set-up: {note}" for note in runtime.configure_cpu_environment()]
    args = build_parser(prog).parse_args(argv)  # the registries it lists may be broken
    runtime.import_paddle()  # once, quietly, before the conf module imports it
    from ..run import run

    log_to_terminal()
    settings = settings_from_args(args, notes)
    if args.download:
        download(settings)
    state = run(settings, notes)
    return EXIT_SIGNAL.get(state.stop_reason or "", EXIT_OK)  # None: not stopped by a signal
