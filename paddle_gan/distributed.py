"""Data-parallel training under `python -m paddle.distributed.launch`: what the ranks share.

`Ranks` is the one place that talks to the other processes; alone (`ALONE`, world size 1)
every method returns at once, so a run without the launcher does exactly what it always did.
Under the launcher each rank computes its shard of every global batch, then:
- `average` averages the forward losses across ranks (one all-reduce, which also carries each
  rank's stop request), so every rank's scheduler makes the same decision and all stop at the
  same step;
- `average_gradients` averages a network's gradients before its update: one coalesced
  all-reduce of all of them (measured against `paddle.DataParallel` in docs/distributed.md);
- `wait_for_all` is a barrier through the launcher's key-value store: gloo's own collectives give
  up after 30 s, and rank 0 alone may spend longer at a pass end (pictures, metrics, a
  checkpoint). It is bounded all the same: every rank leaves a heartbeat in the store at each
  iteration and while it waits, and a rank that shows none for `timeouts.rank` seconds is lost;
  no barrier lasts more than `timeouts.barrier`; and a stop asked of a waiting rank (the
  launcher's SIGTERM once another rank died) ends the wait when a rank other than rank 0 (whose
  store answers for it) has not come within a moment;
- `check_same_settings` compares the ranks' resolved settings before anything is written: a run
  started with different settings on different processes cannot be one run;
- `gather`, `broadcast` and `check_same` serve the checkpoints: every rank's Paddle generator
  state into one file, the loaded checkpoint from rank 0 to the others, and a comparison of the
  ranks' parameters after each save.
A collective that fails because another rank went away is one `RankLost` line.
"""
from __future__ import annotations

import hashlib
import os
import signal
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import ConfigError, Diverged, RankLost, shorten

POLL_S = 0.05  # how often a waiting rank asks the store
STOP_GRACE_S = 1.0  # a stop while waiting: how long the missing ranks still have to come


def launched_world() -> Tuple[int, int]:
    """(rank, world size) that paddle.distributed.launch gave this process; (0, 1) alone."""
    return (int(os.environ.get("PADDLE_TRAINER_ID", "0")),
            int(os.environ.get("PADDLE_TRAINERS_NUM", "1")))


class Ranks:
    """This process's place in the run (rank, world size) and its collectives."""

    def __init__(self, rank: int = 0, world: int = 1, rank_timeout: float = 120.0,
                 barrier_timeout: float = 1800.0):
        self.rank, self.world = rank, world
        self.rank_timeout, self.barrier_timeout = rank_timeout, barrier_timeout
        # set by the run: has a stop been asked of this process (a signal)?
        self.stop_requested: Callable[[], bool] = lambda: False
        self._barriers = 0

    @property
    def alone(self) -> bool:
        return self.world == 1

    def shard(self, global_count: int) -> slice:
        """This rank's rows of a global batch of `global_count` (the world size divides it)."""
        size = global_count // self.world
        return slice(self.rank * size, (self.rank + 1) * size)

    def average(self, losses: Dict[str, float], stop: bool) -> Tuple[Dict[str, float], bool]:
        """The losses averaged over the ranks, and whether any rank asked to stop."""
        if self.alone:
            return losses, stop
        import paddle

        self.heartbeat()
        values = np.array([*losses.values(), float(stop)], dtype=np.float64)
        summed = self._all_reduce(paddle.to_tensor(values)).numpy()
        averaged = {name: float(value) / self.world for name, value in zip(losses, summed)}
        return averaged, bool(summed[-1])

    def average_gradients(self, parameters: Sequence) -> None:
        """Every rank's gradients of `parameters`, averaged in place: one all-reduce."""
        if self.alone:
            return
        import paddle

        grads = [p.grad for p in parameters if p.grad is not None]
        flat = paddle.concat([g.reshape([-1]) for g in grads])
        flat = self._all_reduce(flat) / self.world
        for grad, part in zip(grads, paddle.split(flat, [int(np.prod(g.shape)) for g in grads])):
            grad.set_value(part.reshape(grad.shape))

    def _all_reduce(self, tensor):
        import paddle.distributed as dist

        try:
            dist.all_reduce(tensor)
        except (RuntimeError, ValueError) as err:  # gloo's "TIMEOUT", a closed connection
            raise RankLost(_lost(err)) from None
        return tensor

    def heartbeat(self) -> None:
        """A sign of life in the store, for a rank that waits for this one."""
        if not self.alone:
            self._store_add(f"paddle_gan/alive/{self.rank}", 1)

    def wait_for_all(self, what: str = "a barrier") -> None:
        """A barrier: each rank counts itself in at the store, then polls for the others'
        counts, each poll a heartbeat; RankLost when a rank is lost (see the module docstring)."""
        if self.alone:
            return
        self._barriers += 1
        key = f"paddle_gan/barrier/{self._barriers}"
        self._store_add(f"{key}/{self.rank}", 1)
        waiting = set(range(self.world)) - {self.rank}
        start = time.monotonic()
        seen = {rank: (-1, start) for rank in waiting}  # heartbeat count, when it last changed
        stop_at: Optional[float] = None
        while True:
            waiting = {rank for rank in waiting if self._store_add(f"{key}/{rank}", 0) < 1}
            if not waiting:
                return
            now = time.monotonic()
            self.heartbeat()
            for rank in waiting:
                beats = self._store_add(f"paddle_gan/alive/{rank}", 0)
                if beats != seen[rank][0]:
                    seen[rank] = (beats, now)
            silent = [r for r in sorted(waiting) if r and now - seen[r][1] > self.rank_timeout]
            if silent:
                raise RankLost(f"rank {silent[0]} stopped answering: no sign of it for "
                               f"{self.rank_timeout:g} s while rank {self.rank} waited for it "
                               f"at {what} (timeouts.rank)")
            if now - start > self.barrier_timeout:
                raise RankLost(f"rank(s) {', '.join(map(str, sorted(waiting)))} did not reach "
                               f"{what} within {self.barrier_timeout:g} s (timeouts.barrier)")
            if stop_at is None and self.stop_requested():
                stop_at = now
            if stop_at is not None and waiting - {0} and now - stop_at > STOP_GRACE_S:
                raise RankLost(f"stopped while rank {self.rank} waited at {what} for rank(s) "
                               f"{', '.join(map(str, sorted(waiting)))}: another process of the "
                               "run stopped (see the launcher's log of each worker)")
            time.sleep(POLL_S)

    @staticmethod
    def _store_add(key: str, amount: int) -> int:
        """The store's add, with SIGINT/SIGTERM held back meanwhile: a signal inside its socket
        call fails the call (EINTR on Paddle 2.6); the handler runs right after instead."""
        from paddle.base import core

        held = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            return core.create_or_get_global_tcp_store().add(key, amount)
        except (RuntimeError, ValueError) as err:  # the store lives in rank 0: it went away
            raise RankLost(_lost(err)) from None
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)

    def gather(self, value: Any) -> List[Any]:
        """Every rank's `value` (picklable), by rank."""
        if self.alone:
            return [value]
        import paddle.distributed as dist

        values: List[Any] = []
        try:
            dist.all_gather_object(values, value)
        except (RuntimeError, ValueError) as err:
            raise RankLost(_lost(err)) from None
        return values

    def broadcast(self, value: Any) -> Any:
        """Rank 0's `value` on every rank (the others pass None)."""
        if self.alone:
            return value
        import paddle.distributed as dist

        box = [value]
        try:
            dist.broadcast_object_list(box, src=0)
        except (RuntimeError, ValueError) as err:
            raise RankLost(_lost(err)) from None
        return box[0]

    def check_same_settings(self, settings: Dict[str, Any]) -> None:
        """ConfigError (exit code 2) on every rank, naming the first setting whose value differs
        from rank 0's: the processes of one run must be started alike."""
        if self.alone:
            return
        every = self.gather(settings)
        for rank, theirs in enumerate(every[1:], 1):
            for key in sorted(every[0].keys() | theirs.keys()):
                if every[0].get(key) != theirs.get(key):
                    raise ConfigError(
                        f"rank {rank} was started with {key}={shorten(repr(theirs.get(key)))}, "
                        f"rank 0 with {key}={shorten(repr(every[0].get(key)))}: every process "
                        "of a run needs the same settings (the same command line and files)")

    def check_same(self, tensors: Dict[str, np.ndarray]) -> None:
        """Diverged (exit code 3) on every rank, naming the first tensor whose bytes differ
        between ranks."""
        if self.alone:
            return
        digests = {name: hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
                   for name, value in tensors.items()}
        every = self.gather(digests)
        for name in digests:
            differing = [rank for rank, theirs in enumerate(every) if theirs.get(name) !=
                         every[0][name]]
            if differing:
                raise Diverged(name, f"different on rank {differing[0]} than on rank 0",
                               kind="parameter")


ALONE = Ranks()


def _lost(err: BaseException) -> str:
    return ("another process of the run stopped (a collective failed: "
            f"{' '.join(str(err).split())[:120]}); see the launcher's log of each worker")


def start(rank: int, world: int, rank_timeout: float = 120.0,
          barrier_timeout: float = 1800.0) -> Ranks:
    """Join the launched run (init_parallel_env) and return this process's `Ranks`."""
    if world == 1:
        return ALONE
    import paddle.distributed as dist

    dist.init_parallel_env()
    return Ranks(rank, world, rank_timeout, barrier_timeout)


def rank_seed(seed: int, ranks: Ranks) -> Optional[int]:
    """The seed of a rank's Paddle generator after the networks are built (dropout masks differ
    between ranks as between the samples of one batch); None alone: the run's own seed stays."""
    if ranks.alone:
        return None
    return int(np.random.SeedSequence([seed, ranks.rank]).generate_state(1)[0])
