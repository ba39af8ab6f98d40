"""The training loop: batch, noise, forward losses, the scheduler's pick, the update, sync, hooks.

It owns nothing else: what to print, plot, log or save is a plugin's job, and how the losses and
the update are computed is `paddle_gan.step`'s. All counters live in the `TrainState` every hook
receives, so a run restored from a checkpoint continues from exactly where it stopped.
`run_iteration` is one iteration exactly as the loop runs it; tools/benchmark.py times it part
by part through its `lap` argument, so what is measured is what trains.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Sequence

from .scheduler import pick_ahead
from .state import StepResult, TrainState

if TYPE_CHECKING:
    from .plugins.base import Plugin

log = logging.getLogger(__name__)


def fire(plugins: Sequence[Plugin], hook: str, state: TrainState) -> None:
    for plugin in plugins:
        getattr(plugin, hook)(state)


def no_lap(part: str) -> None:
    """`run_iteration` outside the benchmark: nothing is timed."""


def run_iteration(state: TrainState, plugins: Sequence[Plugin],
                  lap: Callable[[str], None] = no_lap) -> None:
    """One iteration; `lap(part)` is called as each part ends (the update's part is named by
    the network it trained)."""
    labels = state.dataset.labels if state.nets.num_classes else None
    real, labels = state.sampler.next_batch(state.dataset.samples, labels)
    noise = state.noise.next()
    batch = state.step.to_device(real, noise, labels)
    lap("data")
    planned = pick_ahead(state.scheduler)  # `alternate`: known now, so only its forwards run
    forward = state.step.forward(*batch, planned=planned)
    lap("forwards")
    ranks = state.nets.ranks
    # data-parallel: every rank decides on the same averaged losses, and stops at the same step
    losses, state.stop_agreed = ranks.average(forward.losses, state.stop_reason is not None)
    decision = planned or state.scheduler.choose(losses["d"], losses["g"])
    state.nets.schedule(state.global_step / state.total_iterations)  # learning rates, if decaying
    lap("decision")
    done = state.step.train(forward, decision)  # what only the update computes (a penalty)
    losses.update(ranks.average(done, False)[0] if done else done)
    lap(decision)
    # a planned G step computes G's terms only: the others keep their newest values
    state.record(StepResult(decision, {**state.result.losses, **losses}, tuple(losses)))
    lap("decision")
    fire(plugins, "on_step_end", state)
    lap("plugins")
    state.nets.sync_after(decision, state.global_step)
    lap("sync")
    fire(plugins, "on_sync", state)
    lap("plugins")


def stops(state: TrainState) -> bool:
    """Stop after this iteration? Alone: when a signal came. Data-parallel: when one came to
    any rank before this iteration's losses were averaged, so all stop after the same step (the
    launcher sends its SIGTERM to every rank)."""
    if state.nets.ranks.alone:
        return state.stop_reason is not None
    if state.stop_agreed and state.stop_reason is None:
        state.stop_reason = "SIGTERM"
    return state.stop_agreed


def train(state: TrainState, plugins: Sequence[Plugin]) -> None:
    """Train until the last pass ends or a stop is requested; every plugin is closed after,
    whatever happened, and hears of an error (divergence included) first."""
    settings = state.settings
    try:
        fire(plugins, "on_train_start", state)
        state.nets.ranks.wait_for_all("the start of training")  # rank 0's plugins may take long
        while state.pass_id < settings.num_passes:
            if state.iteration == 0:
                state.start_pass()
                fire(plugins, "on_pass_start", state)
            while state.iteration < state.iters_per_pass:
                run_iteration(state, plugins)
                if stops(state):
                    fire(plugins, "on_train_end", state)
                    return
            state.nets.check_finite()  # before anything of the pass is drawn from the networks
            fire(plugins, "on_pass_end", state)
            fire(plugins, "on_pass_published", state)  # what the pass end made is complete
            state.nets.ranks.wait_for_all(f"the end of pass {state.pass_id}")
            state.pass_id += 1
            state.iteration = 0
            if state.nets.ranks.alone and state.stop_reason is not None:  # asked at the pass end
                break
        fire(plugins, "on_train_end", state)
    except BaseException as error:
        for plugin in plugins:
            _quietly(plugin.on_exception, state, error)
        raise
    finally:
        for plugin in plugins:
            _quietly(plugin.close)


def _quietly(call, *args) -> None:
    """A plugin failing while the run winds down must not hide why it winds down."""
    try:
        call(*args)
    except Exception as err:
        log.warning(f"{getattr(call, '__qualname__', call)} failed: {type(err).__name__}: {err}")
