"""Which network trains next: `loss_based` (the v1 rule) or `alternate` (n D steps : m G steps).

Pure Python: a scheduler sees the forward-pass losses and answers DIS or GEN. One whose picks do
not depend on the losses (`alternate`) answers `pick_ahead()` before the forwards, so the step
computes only what that update needs (a G step skips D's forward on the real batch). Its whole state
(current network, strike) is in `state_dict()` so a resumed run decides exactly as the
uninterrupted one would. Both are registered (paddle_gan.registry.SCHEDULERS) by their
`from_settings`, which a user's scheduler mirrors.
"""
from __future__ import annotations

from typing import Optional, Protocol

from .roles import DIS, GEN


class Scheduler(Protocol):
    """What the trainer asks of a scheduler (a user's, registered, included)."""

    strike: int  # consecutive picks of the last answer

    def choose(self, d_loss: float, g_loss: float) -> str:
        """DIS or GEN, from this iteration's forward-only losses."""

    def pick_ahead(self) -> Optional[str]:
        """This iteration's pick (DIS or GEN) when the losses cannot change it, taken now and
        then not asked again with `choose`; None when `choose` needs them. Optional: a
        scheduler without it is always asked with the losses."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class LossBased:
    """v1: train D when its loss is larger, but never more than `max_strike` picks in a row."""

    def __init__(self, max_strike: int = 5):
        self.max_strike = max_strike
        self.current, self.strike = DIS, 0  # v1's starting point

    @classmethod
    def from_settings(cls, settings) -> LossBased:
        """From `config.SchedulerSettings`."""
        return cls(settings.max_strike)

    def choose(self, d_loss: float, g_loss: float) -> str:
        d_exhausted = self.current == DIS and self.strike == self.max_strike
        g_exhausted = self.current == GEN and self.strike == self.max_strike
        pick = DIS if not d_exhausted and (g_exhausted or d_loss > g_loss) else GEN
        self.strike = self.strike + 1 if pick == self.current else 1
        self.current = pick
        return pick

    def pick_ahead(self) -> Optional[str]:
        return None  # the losses decide

    def state_dict(self) -> dict:
        return {"current": self.current, "strike": self.strike}

    def load_state_dict(self, state: dict) -> None:
        current, strike = state["current"], state["strike"]
        if current not in (DIS, GEN) or not isinstance(strike, int) or strike < 0:
            raise ValueError(f"scheduler state {current!r}, {strike!r} is not (dis|gen, strike)")
        self.current, self.strike = current, strike


class Alternate(LossBased):
    """`d_steps` D steps, then `g_steps` G steps, regardless of the losses."""

    def __init__(self, d_steps: int = 1, g_steps: int = 1):
        super().__init__()
        self.d_steps, self.g_steps = d_steps, g_steps
        self.current, self.strike = GEN, g_steps  # so the first pick is D

    @classmethod
    def from_settings(cls, settings) -> Alternate:
        return cls(settings.d_steps, settings.g_steps)

    def choose(self, d_loss: float, g_loss: float) -> str:
        return self.pick_ahead()

    def pick_ahead(self) -> str:
        limit = self.d_steps if self.current == DIS else self.g_steps
        pick = self.current if self.strike < limit else (GEN if self.current == DIS else DIS)
        self.strike = self.strike + 1 if pick == self.current else 1
        self.current = pick
        return pick


def pick_ahead(scheduler: Scheduler) -> Optional[str]:
    """`scheduler.pick_ahead()`, or None for a scheduler that has no such method."""
    ahead = getattr(scheduler, "pick_ahead", None)
    return ahead() if ahead is not None else None
