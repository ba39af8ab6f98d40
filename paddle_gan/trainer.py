"""The training loop: draw a batch, run one GAN step, sync the networks, fire the plugin hooks.

It owns nothing else: what to print, plot, log or save is a plugin's job, and how one step is
computed is `paddle_gan.step`'s. All counters live in the `TrainState` every hook receives, so a
run restored from a checkpoint continues from exactly where it stopped.
"""
from __future__ import annotations

from typing import List

from .plugins.base import Plugin, TrainState


def fire(plugins: List[Plugin], hook: str, state: TrainState) -> None:
    for plugin in plugins:
        getattr(plugin, hook)(state)


def train(state: TrainState, plugins: List[Plugin]) -> None:
    settings, nets = state.settings, state.nets
    fire(plugins, "on_train_start", state)
    while state.pass_id < settings.num_passes:
        if state.iteration == 0:
            state.sampler.start_pass()
            state.pass_counts = {"dis": 0, "gen": 0}
            fire(plugins, "on_pass_start", state)
        while state.iteration < settings.iters_per_pass:
            real = state.sampler.next_batch(state.dataset.samples)
            noise = state.noise.next()
            result = state.step(real, noise)
            state.decision = result.pop("decision")
            state.losses = result
            state.strike = state.scheduler.strike
            state.pass_counts[state.decision] += 1
            state.iteration += 1
            state.global_step += 1
            fire(plugins, "on_step_end", state)
            nets.sync_after(state.decision)
            fire(plugins, "on_sync", state)
            if state.stop_reason:
                fire(plugins, "on_train_end", state)
                return
        fire(plugins, "on_pass_end", state)
        state.pass_id += 1
        state.iteration = 0
    fire(plugins, "on_train_end", state)
