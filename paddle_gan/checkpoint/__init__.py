"""Checkpoints: the run saves the whole train state here, and resumes from it.

`files` owns the folder format (arrays.npz + meta.json + manifest.json, written atomically),
`train_state` what goes in and how it comes back, `reader` opening a checkpoint for the tools
(generate, export, evaluate). `Checkpointer` is what the run puts on the state: it saves when
the checkpoint plugin (the policy: when, and how many to keep) asks, refuses a state holding
NaN or Inf, resumes a run, and publishes the newest checkpoint as `state.last_checkpoint`.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

from ..config import settings_to_dict
from ..errors import Diverged
from .files import (
    checkpoint_name,
    load_checkpoint,
    newest_valid,
    rotate_checkpoints,
    save_checkpoint,
)
from .train_state import Stateful, check_settings, collect, non_finite, restore

if TYPE_CHECKING:
    from ..state import TrainState

log = logging.getLogger("paddle_gan")


def checkpoint_dir(output_dir) -> Path:
    return Path(output_dir) / "checkpoints"


@dataclass(frozen=True)
class Saved:
    """A checkpoint of this run: where, and the step whose state it holds."""

    path: Path
    global_step: int
    pass_end: bool


class Checkpointer:
    """Saves and restores the train state of one run in `<output_dir>/checkpoints`."""

    def __init__(self, output_dir, plugins: Sequence[Stateful]):
        self.directory = checkpoint_dir(output_dir)
        self.plugins = plugins  # whose state_dict() goes into every checkpoint
        self.resumed_from: Optional[Path] = None  # rotation never deletes it

    def save(self, state: TrainState, reason: str, pass_end: bool = False) -> Optional[Saved]:
        """Write a checkpoint of `state` (at a pass end: resuming starts the next pass)."""
        arrays, meta = collect(state, self.plugins, pass_end, reason)
        bad = non_finite(arrays)
        if bad:
            # A NaN weight can hide behind finite losses (ReLU maps NaN to 0), so this is where
            # such a run is caught: stop as diverged, keeping the last good checkpoint.
            raise Diverged(bad[0], "NaN/Inf", kind="parameter")
        try:
            json.dumps(meta, allow_nan=False)
        except ValueError:
            log.warning(f"checkpoint at step {state.global_step} NOT saved: NaN/Inf in its meta")
            return None
        path = save_checkpoint(self.directory, checkpoint_name(state.global_step, state.pass_id),
                               arrays, meta)
        state.last_checkpoint = Saved(path, state.global_step, pass_end)
        return state.last_checkpoint

    def rotate(self, keep_last: int) -> List[Path]:
        """Delete all but the newest `keep_last` checkpoints (never the one resumed from)."""
        return rotate_checkpoints(self.directory, keep_last, protect=self.resumed_from)

    def resume(self, state: TrainState, source: str,
               warn: Callable[[str], object] = log.warning) -> Path:
        """Restore `state` and the plugins from `source`: "auto" (the newest valid checkpoint of
        this output dir) or a checkpoint folder; returns the checkpoint used."""
        if source == "auto":
            path, arrays, meta = newest_valid(self.directory, warn=warn)
        else:
            path = Path(source)
            arrays, meta = load_checkpoint(path)
        check_settings(meta.get("settings", {}), settings_to_dict(state.settings), path)
        restore(state, self.plugins, arrays, meta, path)
        self.resumed_from = path
        state.last_checkpoint = Saved(path, state.global_step, state.iteration == 0)
        log.info(f"resuming from {path}: pass {state.pass_id} iteration {state.iteration} "
                 f"(step {state.global_step})")
        return path
