"""Assemble a run from settings: device, seeds, data, networks, plugins, state; then train.

This is the glue between `Settings` and `trainer.train`: inside the run's `output.OutputFolder`
(lock, mirror, train.log, config.yaml) it builds the state, starts or resumes the checkpoints,
and trains with SIGINT/SIGTERM turned into a request to stop after the current step
(`signals`). Random streams are separated by purpose so that the data, the noise of each step,
the fixed sample noise and the shuffles never share a generator. A URL as data dir is fetched
into its local cache first (`remote.fetch_folder`). `run` leaves the caller's logging as it
found it: the run's lines go to train.log and to whatever handlers the `paddle_gan` logger has
(the command line adds one for the terminal).
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Sequence, cast

import numpy as np

from . import distributed, remote, runtime, signals, storage
from .checkpoint import Checkpointer
from .checkpoint.train_state import collect, shared_by_ranks
from .config import Settings, flatten_settings, load_conf_module, settings_to_dict
from .datasets.base import BatchSampler
from .distributed import ALONE, Ranks, rank_seed
from .errors import ConfigError, Diverged, failure_line
from .mirror import Mirror
from .noise import NoiseStream, RandomStream, class_grid, fixed_noise
from .output import OutputFolder, log_failure
from .plugins import build_plugins
from .plugins.base import Plugin
from .registry import DATASETS, EXECUTIONS, LOSSES, SCHEDULERS
from .state import TrainState

log = logging.getLogger(__name__)

FIXED_NOISE_IMAGES, FIXED_NOISE_POINTS = 64, 1024  # an 8x8 grid; enough points for a histogram


def build_state(settings: Settings, output_dir: Path, ranks: Ranks = ALONE) -> TrainState:
    """Everything a run needs, freshly initialised from the seed (data-parallel: every rank
    builds the same networks and draws the same global batches, keeping its shard)."""
    import paddle

    from .losses import Objective
    from .networks import build_networks, check_precision

    random.seed(settings.seed)  # for a conf module that draws from it while it builds
    np.random.seed(settings.seed)  # nothing of ours draws from it; a conf module or plugin may
    paddle.seed(settings.seed)
    loss = LOSSES.get(settings.loss.name)(settings.loss)
    check_scheduler_fits(settings, loss)
    dataset = DATASETS.get(settings.data)(settings)
    conf = load_conf_module(settings.resolved_conf_path())
    check_labels(dataset, getattr(conf, "NUM_CLASSES", 0), settings.conf)
    batch = global_batch(settings, ranks)
    check_packing(settings, batch // ranks.world, getattr(conf, "NUM_CLASSES", 0))
    check_precision(settings.precision, paddle.device.get_device())
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
        py_random=random.Random(settings.seed),
        is_writer=runtime.is_writer(),
    )


def resolve_iters_per_pass(settings: Settings, data_size: int, batch: int) -> int:
    """The setting, with "epoch" as the data's whole (global) batches."""
    if settings.iters_per_pass == "epoch":
        return max(1, data_size // batch)
    return cast(int, settings.iters_per_pass)  # validated: "epoch" is the one word it takes


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


def run(settings: Settings, notes: Sequence[str] = ()) -> TrainState:
    """Train with `settings`; returns the final state (its stop_reason says if a signal came).
    `notes` are one-line notices gathered before the log existed (CPU set-up, settings)."""
    rank, world = distributed.launched_world()
    device = runtime.select_device(settings.use_gpu, settings.gpu_id, launched=world > 1)
    ranks = distributed.start(rank, world, settings.timeouts.rank, settings.timeouts.barrier)
    ranks.check_same_settings(flatten_settings(settings_to_dict(settings)))  # before any write
    try:
        with OutputFolder(settings) as output:
            try:
                state = _run(settings, output, notes, device, ranks)
            except BaseException as err:
                if distributed.launched_world()[1] > 1:
                    signals.ignore_sigterm_while_failing()
                log_failure(failure_line(err))  # into train.log, before its last upload
                raise
            output.succeeded()
            return state
    finally:
        signals.say_saved(None)


def _run(settings: Settings, output: OutputFolder, notes: Sequence[str], device: str,
         ranks: Ranks) -> TrainState:
    from .trainer import train

    output_dir, mirror = output.path, output.mirror
    for note in notes:
        log.info(note)
    log.info(f"device: {device}, Paddle {runtime.import_paddle().__version__}")
    if not ranks.alone:
        batch = global_batch(settings, ranks)
        log.info(f"data-parallel: rank {ranks.rank} of {ranks.world} processes, each step's "
                 f"batch {batch} split into {ranks.world} shards of {batch // ranks.world}")
    if storage.is_remote(settings.data_dir):
        remote.fetch_folder(settings.data_dir, settings.resolved_data_dir(),
                            settings.storage_options, settings.timeouts.storage)
    state = build_state(settings, output_dir, ranks)
    if not ranks.alone:  # a signal ends a wait at a barrier for a lost rank
        ranks.stop_requested = lambda: state.stop_reason is not None
    plugins = build_plugins(settings.plugins, settings.plugin_options, state.is_writer)
    saves = any(plugin.saves_state for plugin in plugins)
    if not plugins:
        log.info("note: no plugins: this run prints, draws and saves nothing")
    elif not saves and state.is_writer:
        log.info("note: no checkpoint plugin: this run saves no checkpoints and cannot be resumed")
    state.checkpointer = Checkpointer(output_dir, plugins, mirror)
    signals.say_saved(state.checkpointer.saved_note)  # what a stop at once would leave
    state.checkpointer.start(state, output.resume_source())
    output.begin()  # accepted: from here on the run writes into its folder
    if not ranks.alone:  # the same networks, optimisers and streams on every rank, or exit 3
        ranks.check_same(shared_by_ranks(*collect(state, [])))
    output.write_config()
    with signals.stop_after_step(state, saves):
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
