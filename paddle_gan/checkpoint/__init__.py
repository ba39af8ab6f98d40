"""Checkpoints: the run saves the whole train state here, and resumes from it.

`files` owns the folder format (arrays.npz + meta.json + manifest.json, written atomically),
`train_state` what goes in and how it comes back, `reader` opening a checkpoint for the tools
(generate, export, evaluate). `Checkpointer` is what the run puts on the state: it saves when
the checkpoint plugin (the policy: when, and how many to keep) asks, refuses a state holding
NaN or Inf, resumes a run, and publishes the newest checkpoint as `state.last_checkpoint`.

It also decides the run's line. A fresh run writes line 1 into an output dir without
checkpoints (one holding a run is refused: resume it, or use another folder). A resumed run
continues the line of its checkpoint when that checkpoint is the newest of its line and no
setting that changes the results differs; otherwise (an older checkpoint, another schedule) it
branches: its checkpoints are a new line, `-vN`, and rotation never touches another line's.

When the output dir is a URL, the folder here is the local staging folder and every checkpoint
saved or deleted is handed to the run's `mirror.Mirror`, which does the same on the store.

Data-parallel, every rank takes part and rank 0 alone touches the folder: a save gathers every
rank's Paddle generator state, compares the ranks' parameters, optimiser state and streams
(a difference is `Diverged`, exit code 3, and nothing is written), then rank 0 writes while the
others wait; a resume is read by rank 0 and broadcast to the others.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

from ..config import settings_to_dict
from ..distributed import ALONE
from ..errors import CheckpointError, Diverged
from ..state import Saved
from .files import (
    checkpoint_name,
    list_checkpoints,
    load_checkpoint,
    newest_valid,
    parse_name,
    remove_leftovers,
    rotate_checkpoints,
    save_checkpoint,
    sequence_of,
)
from .train_state import (
    Stateful,
    check_settings,
    collect,
    non_finite,
    restore,
    shared_by_ranks,
)

if TYPE_CHECKING:
    from ..state import TrainState

log = logging.getLogger(__name__)


def checkpoint_dir(output_dir) -> Path:
    return Path(output_dir) / "checkpoints"


class Checkpointer:
    """Saves and restores the train state of one run in `<output_dir>/checkpoints`."""

    def __init__(self, output_dir, plugins: Sequence[Stateful], mirror=None):
        self.directory = checkpoint_dir(output_dir)
        self.plugins = plugins  # whose state_dict() goes into every checkpoint
        self.mirror = mirror  # a mirror.Mirror when the output dir is a URL
        self.resumed_from: Optional[Path] = None  # rotation never deletes it
        self.written: List[Path] = []  # the checkpoints this run wrote
        self.line = 1  # this run's line of checkpoints (names end -vN from line 2 on)
        self.ranks, self.writes = ALONE, True  # set by start(): data-parallel, rank 0 writes
        self._sequence: Optional[int] = None  # the newest sequence number in the folder

    def start(self, state: TrainState, resume: str = "") -> None:
        """Before training: clear what interrupted saves left, then resume from `resume`
        ("auto" or a path) or, for a fresh run, make sure the folder holds no run yet."""
        self.ranks, self.writes = state.nets.ranks, state.is_writer
        if not self.writes:
            if resume:
                self.resume(state, resume)
            return
        for path in remove_leftovers(self.directory):
            log.info(f"checkpoints: removed {path.name}, left by an interrupted save")
        if resume:
            self.resume(state, resume)
            return
        existing = list_checkpoints(self.directory)
        if existing:
            where = self.mirror.name if self.mirror is not None else self.directory.parent
            raise CheckpointError(
                f"{where} already holds a run (newest checkpoint "
                f"{existing[-1].name}): continue it with --resume auto, or start a new run in "
                "another --output_dir")

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
        name = checkpoint_name(state.global_step, state.pass_id, self.line)
        if not self.ranks.alone:
            self.ranks.check_same(shared_by_ranks(arrays, meta))
            meta["rng"]["paddle_ranks"] = self.ranks.gather(meta["rng"]["paddle"])
        if not self.writes:
            self.ranks.wait_for_all(f"checkpoint {name}")  # until rank 0 has written it
            state.last_checkpoint = Saved(self.directory / name, state.global_step, pass_end)
            return state.last_checkpoint
        if self._sequence is None:
            self._sequence = max(map(sequence_of, list_checkpoints(self.directory)), default=0)
        self._sequence += 1
        path = save_checkpoint(self.directory, name, arrays, meta, self._sequence)
        self.written.append(path)
        if self.mirror is not None:
            self.mirror.push_checkpoint(path)
        self.ranks.wait_for_all(f"checkpoint {name}")
        state.last_checkpoint = Saved(path, state.global_step, pass_end)
        return state.last_checkpoint

    def saved_note(self) -> str:
        """What this run saved, in words, for a line that stops it."""
        if not self.written:
            return "nothing was saved"
        note = (f"{len(self.written)} checkpoint(s) saved in {self.directory}, the newest "
                f"{self.written[-1].name}")
        if self.mirror is not None:
            note += (f"; what did not reach {self.mirror.name} goes up when the run is resumed "
                     "(--resume auto)")
        return note

    def rotate(self, keep_last: int) -> List[Path]:
        """Delete all but this line's newest `keep_last` checkpoints (never the one resumed
        from, never another line's)."""
        if not self.writes:
            return []
        deleted = rotate_checkpoints(self.directory, keep_last, self.line, self.resumed_from)
        for path in deleted if self.mirror is not None else ():
            self.mirror.delete_checkpoint(path)
        return deleted

    def resume(self, state: TrainState, source: str,
               warn: Callable[[str], object] = log.warning) -> Path:
        """Restore `state` and the plugins from `source`: "auto" (the newest valid checkpoint
        written to this output dir) or a checkpoint folder; returns the checkpoint used."""
        path, arrays, meta = self._read_on_rank_0(source, warn)
        changed = check_settings(meta.get("settings", {}), settings_to_dict(state.settings), path)
        restore(state, self.plugins, arrays, meta, path)
        log.info(f"resuming from {path}: pass {state.pass_id} iteration {state.iteration} "
                 f"(step {state.global_step})")
        self.resumed_from = path
        self.line = self._line_after(path, changed) if self.writes else 1
        state.last_checkpoint = Saved(path, state.global_step, state.iteration == 0)
        return path

    def _read_on_rank_0(self, source: str, warn) -> tuple:
        """(path, arrays, meta) of `source`, read by rank 0 and sent to the others (which then
        need no access to the folder); an error there is the same error on every rank."""
        found = error = None
        if self.writes:
            try:
                if source == "auto":
                    found = newest_valid(self.directory, warn=warn)
                else:
                    found = (Path(source), *load_checkpoint(Path(source)))
            except CheckpointError as err:
                if self.ranks.alone:
                    raise
                error = str(err)
        found, error = self.ranks.broadcast((found, error))
        if error:
            raise CheckpointError(error)
        return found

    def _line_after(self, resumed: Path, changed: List[str]) -> int:
        """The line a run resumed from `resumed` writes: its own, or a new one (see above)."""
        here = list_checkpoints(self.directory)
        parsed = parse_name(resumed.name)
        if parsed and resumed.resolve().parent == self.directory.resolve():
            newest = list_checkpoints(self.directory, parsed[2])[-1]
            if newest.resolve() == resumed.resolve() and not changed:
                return parsed[2]
            why = (f"settings that change the results differ ({', '.join(changed)})" if changed
                   else f"not the newest checkpoint of its line ({newest.name} is)")
        elif not here:
            return 1
        else:
            why = "not a checkpoint of this output dir"
        line = 1 + max(parse_name(p.name)[2] for p in here)
        log.info(f"checkpoints: this run writes a new line, {line} (names end -v{line}), because "
                 f"{resumed.name}: {why}; the other checkpoints are kept")
        return line
