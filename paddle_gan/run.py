"""Assemble a run from settings: device, seeds, data, networks, plugins, state; then train.

This is the glue between `Settings` and `trainer.train`: it locks the output folder for the
run, writes the resolved `config.yaml`, sends the `paddle_gan` logger to the terminal and
`train.log`, starts or resumes the checkpoints, and turns SIGINT/SIGTERM into a request to stop
after the current step. Random streams are separated by purpose so that the data, the noise of
each step, the fixed sample noise and the shuffles never share a generator.

A URL as data dir is fetched into its local cache first (`remote.fetch_folder`). A URL as output
dir is staged: the run writes into a local folder as always, and a `mirror.Mirror` brings the
store's copy down before anything is written and uploads from its own thread (checkpoints when
saved, the rest at every pass end and at the end); the run waits for the last upload.
"""
from __future__ import annotations

import contextlib
import logging
import random
import signal
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import yaml

from . import distributed, remote, runtime, storage
from .checkpoint import Checkpointer
from .checkpoint.train_state import collect, shared_by_ranks
from .config import Settings, load_conf_module, settings_to_dict
from .datasets.base import BatchSampler
from .distributed import ALONE, Ranks, rank_seed
from .errors import ConfigError, Diverged, failure_line
from .mirror import Mirror, fetch_checkpoints
from .noise import NoiseStream, RandomStream, class_grid, fixed_noise
from .plugins import build_plugins
from .plugins.base import Plugin
from .registry import DATASETS, EXECUTIONS, LOSSES, SCHEDULERS
from .state import TrainState

log = logging.getLogger("paddle_gan")

FIXED_NOISE_IMAGES, FIXED_NOISE_POINTS = 64, 1024  # an 8x8 grid; enough points for a histogram


class LogFile(logging.FileHandler):
    """train.log: a failed write stops the run with one StorageError line (instead of logging's
    traceback on stderr), once; after that the file is left alone."""

    def __init__(self, path: Path):
        with storage.writing("the log", path):
            super().__init__(path)
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            return super().handleError(record)
        self.failed = True
        raise storage.StorageError(f"cannot write the log {self.baseFilename}: "
                                   f"{storage.describe(error)}") from None


def setup_logging(output_dir: Optional[Path]) -> None:
    """Terminal: the message only; train.log (rank 0): with a timestamp. A record logged with
    `extra={"log_file_only": True}` goes to train.log alone (the error line of a failed run,
    which the terminal gets on stderr)."""
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    terminal = logging.StreamHandler(sys.stdout)
    terminal.setFormatter(logging.Formatter("%(message)s"))
    terminal.addFilter(lambda record: not getattr(record, "log_file_only", False))
    log.addHandler(terminal)
    if output_dir is not None:
        logfile = LogFile(storage.make_folder(output_dir, "output dir") / "train.log")
        logfile.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        log.addHandler(logfile)


def log_failure(message: str) -> None:
    """The line a failed run ends with, into train.log (when there is one it can still write)."""
    if any(isinstance(handler, LogFile) for handler in log.handlers):
        with contextlib.suppress(Exception):
            log.error(message, extra={"log_file_only": True})


def build_state(settings: Settings, output_dir: Path, ranks: Ranks = ALONE) -> TrainState:
    """Everything a run needs, freshly initialised from the seed (data-parallel: every rank
    builds the same networks and draws the same global batches, keeping its shard)."""
    import paddle

    from .losses import Objective
    from .networks import build_networks

    random.seed(settings.seed)
    np.random.seed(settings.seed)  # nothing of ours draws from it; a conf module or plugin may
    paddle.seed(settings.seed)
    loss = LOSSES.get(settings.loss.name)(settings.loss)
    check_scheduler_fits(settings, loss)
    dataset = DATASETS.get(settings.data)(settings)
    conf = load_conf_module(settings.resolved_conf_path())
    check_labels(dataset, getattr(conf, "NUM_CLASSES", 0), settings.conf)
    batch = global_batch(settings, ranks)
    check_packing(settings, batch // ranks.world, getattr(conf, "NUM_CLASSES", 0))
    nets = build_networks(conf, dataset.sample_shape, settings, loss.logits)
    check_discriminator(nets, loss, settings.conf)
    nets.ranks = ranks
    seed = rank_seed(settings.seed, ranks)
    if seed is not None:  # each rank's dropout masks its own
        paddle.seed(seed)
    fixed_labels = None
    if nets.num_classes:
        noise, fixed_labels = class_grid(settings.seed, nets.num_classes, nets.noise_dim,
                                         settings.noise)
    else:
        count = FIXED_NOISE_IMAGES if dataset.is_image else FIXED_NOISE_POINTS
        noise = fixed_noise(settings.seed, count, nets.noise_dim, settings.noise)
    objective = Objective(loss, settings.loss.aux_weight, settings.loss.g_batches)
    return TrainState(
        settings=settings,
        nets=nets,
        dataset=dataset,
        sampler=BatchSampler(len(dataset), batch, settings.seed, ranks.shard(batch)),
        noise=NoiseStream(settings.seed, (batch, nets.noise_dim), settings.noise,
                          ranks.shard(batch)),
        scheduler=SCHEDULERS.get(settings.scheduler.name)(settings.scheduler),
        step=EXECUTIONS.get(settings.execution)(
            nets, objective, RandomStream(settings.seed, settings.noise, ranks.rank, ranks.world)),
        output_dir=output_dir,
        fixed_noise=noise,
        iters_per_pass=resolve_iters_per_pass(settings, len(dataset), batch),
        fixed_labels=fixed_labels,
        is_writer=runtime.is_writer(),
    )


def resolve_iters_per_pass(settings: Settings, data_size: int, batch: int) -> int:
    """The setting, with "epoch" as the data's whole (global) batches."""
    if settings.iters_per_pass == "epoch":
        return max(1, data_size // batch)
    return settings.iters_per_pass


def global_batch(settings: Settings, ranks: Ranks) -> int:
    """The batch of one step over all processes (see `batch_split`); each rank's share of it
    must be whole."""
    if settings.batch_split == "per_process":
        return settings.batch_size * ranks.world
    if settings.batch_size % ranks.world:
        raise ConfigError(f"batch_size {settings.batch_size} does not split over "
                          f"{ranks.world} processes; make it a multiple of {ranks.world} (or "
                          "set batch_split: per_process)")
    return settings.batch_size


def check_packing(settings: Settings, batch: int, num_classes: int) -> None:
    """A packed D needs whole packs in every batch (each process's), and one verdict for m
    samples has no single class for an AC-GAN's class head to name."""
    packing = settings.packing
    if packing > 1 and num_classes:
        raise ConfigError(f"packing {packing}: {settings.conf} is conditional (NUM_CLASSES), and "
                          "its discriminator names one class per sample; packing is for "
                          "unconditional confs")
    if batch % packing:
        where = "batch_size" if batch == settings.batch_size else "each process's batch"
        raise ConfigError(f"packing {packing}: {where} {batch} is not a multiple of it; make "
                          "the batch a multiple of the packing")


def check_discriminator(nets, loss, conf_name: str) -> None:
    """D gives the outputs the loss needs, and class logits exactly when the conf is
    conditional (one for each of its NUM_CLASSES)."""
    from .networks import discriminator_outputs, packed_shape

    try:
        outputs, classes = discriminator_outputs(nets)
    except Exception as err:
        if nets.packing == 1:
            raise
        shape = packed_shape(nets.sample_shape, nets.packing)
        raise ConfigError(f"packing {nets.packing}: {conf_name}'s discriminator does not judge "
                          f"packed samples of shape {list(shape)} ({type(err).__name__}: "
                          f"{' '.join(str(err).split())[:200]}); its build_discriminator must "
                          "size D's input from the sample_shape it is given") from None
    if outputs != loss.logits:
        raise ConfigError(f"loss {loss.name} needs a discriminator with {loss.logits} "
                          f"output(s) a sample; {conf_name}'s gives {outputs}")
    if classes != nets.num_classes:
        expected = (f"NUM_CLASSES = {nets.num_classes} class logits" if nets.num_classes
                    else "no class logits (the conf has no NUM_CLASSES)")
        raise ConfigError(f"{conf_name}: its discriminator gives {classes} class logits a "
                          f"sample, expected {expected}")


def check_labels(dataset, num_classes: int, conf_name: str) -> None:
    """A conditional conf needs labelled data whose labels are its classes."""
    if not num_classes:
        return
    if dataset.labels is None:
        raise ConfigError(f"{conf_name} is conditional (NUM_CLASSES = {num_classes}) but data "
                          f"{dataset.name} has no labels; use labelled data (mnist, cifar)")
    outside = dataset.labels[(dataset.labels < 0) | (dataset.labels >= num_classes)]
    if len(outside):
        raise ConfigError(f"data {dataset.name} has label {outside[0]}, outside {conf_name}'s "
                          f"classes 0..{num_classes - 1} (NUM_CLASSES = {num_classes})")


def check_scheduler_fits(settings: Settings, loss) -> None:
    """v1's loss_based rule compares D's loss with G's, which only some losses make sense of."""
    if settings.scheduler.name == "loss_based" and not loss.comparable:
        raise ConfigError(
            f"scheduler loss_based compares D's and G's losses, which loss {loss.name} does not "
            "make comparable; use --set scheduler.name=alternate --set scheduler.d_steps=5 "
            "(WGAN's usual 5 D steps a G step)")


@contextlib.contextmanager
def stop_on_signals(state: TrainState, saves: bool):
    """SIGINT/SIGTERM ask the loop to stop after the current step; a second SIGINT stops at
    once. A second SIGTERM changes nothing: paddle.distributed.launch sends up to three, 0.2 s
    apart, and then waits 30 s for the checkpoint. `saves`: a plugin will save the state at the
    stop."""

    def request_stop(signum, frame):
        if state.stop_reason:  # a repeated SIGTERM
            return
        state.stop_reason = signal.Signals(signum).name
        unsaved = "" if saves else " (nothing will be saved: no checkpoint plugin)"
        log.info(f"{state.stop_reason} received: stopping after the current step{unsaved}")
        signal.signal(signal.SIGINT, previous[signal.SIGINT])

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Uploads(Plugin):
    """The run's own hook when its output dir is a URL (not a user plugin, never in a
    checkpoint): it stops the run at the first step after an upload failed for good, and asks
    for the changed files at every pass end, after every plugin has made that pass's files."""

    name = "uploads"

    def __init__(self, mirror: Mirror):
        self.mirror = mirror

    def on_step_end(self, state: TrainState) -> None:
        self.mirror.check()

    def on_pass_end(self, state: TrainState) -> None:
        self.mirror.check()
        self.mirror.sync()


def run(settings: Settings, notes: List[str] = ()) -> TrainState:
    """Train with `settings`; returns the final state (its stop_reason says if a signal came).
    `notes` are one-line notices gathered before the log existed (CPU set-up, settings)."""
    output_dir = settings.resolved_output_dir()
    writer = runtime.is_writer()
    mirror = None
    if writer and storage.is_remote(settings.output_dir):
        mirror = Mirror(settings.output_dir, output_dir, settings.storage_options)
    lock = storage.RunLock(output_dir) if writer else None
    locked = lock.acquire() if lock else False
    failed = True
    try:
        if mirror:
            setup_logging(None)  # the terminal hears of retries
            mirror.pull()  # before train.log is opened: a resumed run continues the store's
        setup_logging(output_dir if writer else None)
        if lock and not locked:
            log.info(f"note: this system cannot lock {output_dir}; run one training in it at a "
                     "time")
        if mirror:
            log.info(f"output: {mirror.name}, staged in {output_dir} (locked there) and uploaded "
                     "from it in the background")
        state = _run(settings, output_dir, notes, mirror)
        failed = False
        return state
    except BaseException as err:
        if distributed.launched_world()[1] > 1:
            # The launcher SIGTERMs every rank once one has failed (SIGKILL 3 s later) and
            # reports rank 0's exit code first: a failing rank still writes its line and exits
            # with its own code (cli.main leaves this in place until the process ends).
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log_failure(failure_line(err))  # into train.log, before its last upload
        raise
    finally:
        try:
            _close_mirror(mirror, failed)
        finally:
            if lock:
                lock.release()


def _close_mirror(mirror: Optional[Mirror], failed: bool) -> None:
    """Wait for the last uploads. When the run failed already, a failing upload is one more
    line in the log, not the error the run ends with."""
    if mirror is None:
        return
    try:
        mirror.close()
    except storage.StorageError as err:
        if not failed:
            raise
        if mirror.error is not err:
            log.warning(f"also: {err}")


def _resume_source(settings: Settings, output_dir: Path) -> str:
    """--resume as a local path: a URL inside the output dir's URL is its staged copy, another
    URL is fetched into the local cache."""
    source = settings.resume
    if not storage.is_remote(source):
        return source
    base = settings.output_dir.rstrip("/") + "/"
    if storage.is_remote(settings.output_dir) and source.startswith(base):
        return str(output_dir.joinpath(*source[len(base):].strip("/").split("/")))
    return str(fetch_checkpoints(source, settings.resolved_remote_cache(),
                                 settings.storage_options))


def _run(settings: Settings, output_dir: Path, notes: List[str],
         mirror: Optional[Mirror]) -> TrainState:
    from .trainer import train

    rank, world = distributed.launched_world()
    device = runtime.select_device(settings.use_gpu, settings.gpu_id, launched=world > 1)
    for note in notes:
        log.info(note)
    log.info(f"device: {device}, Paddle {runtime.import_paddle().__version__}")
    ranks = distributed.start(rank, world)
    if not ranks.alone:
        batch = global_batch(settings, ranks)
        log.info(f"data-parallel: rank {rank} of {world} processes, each step's batch "
                 f"{batch} split into {world} shards of {batch // world}")
    if storage.is_remote(settings.data_dir):
        remote.fetch_folder(settings.data_dir, settings.resolved_data_dir(),
                            settings.storage_options)
    state = build_state(settings, output_dir, ranks)
    plugins = build_plugins(settings.plugins, settings.plugin_options, state.is_writer)
    saves = any(plugin.saves_state for plugin in plugins)
    if not plugins:
        log.info("note: no plugins: this run prints, draws and saves nothing")
    elif not saves and state.is_writer:
        log.info("note: no checkpoint plugin: this run saves no checkpoints and cannot be resumed")
    state.checkpointer = Checkpointer(output_dir, plugins, mirror)
    state.checkpointer.start(state, _resume_source(settings, output_dir))
    if not ranks.alone:  # the same networks, optimisers and streams on every rank, or exit 3
        ranks.check_same(shared_by_ranks(*collect(state, [])))
    if state.is_writer:
        text = yaml.safe_dump(settings_to_dict(settings), sort_keys=False)
        storage.write_bytes(output_dir / "config.yaml", text.encode(), "the run's settings")
    with stop_on_signals(state, saves):
        try:
            train(state, plugins + [Uploads(mirror)] if mirror else plugins)
        except Diverged as err:
            # A loss is caught inside the step, before the counters move on; a parameter is
            # caught at a pass end or a checkpoint, after them.
            ahead = 1 if err.kind == "loss" else 0
            err.args = (f"{err} at pass {state.pass_id} iteration {state.iteration + ahead} "
                        f"(step {state.global_step + ahead})",)
            raise
    return state
