"""The generator's input noise (standard normal, or uniform on [-1, 1): `noise`): the run's noise
stream, the fixed noise of the sample pictures, the seeded noise the tools and the metrics draw
samples with, and the step's own seeded stream (WGAN-GP's mixing weights, a conditional run's
fake labels).

`NoiseStream` hands out one standard-normal batch per iteration: exactly the numbers that one
`standard_normal(shape)` call per iteration would give (numpy fills arrays in stream order), but
drawn CHUNK iterations at a time by a worker thread while training runs (numpy releases the GIL
while it fills). A draw in the loop cost ~30 us of a ~1.3 ms uniform iteration; a slice costs
~1 us. Its state (the generator's state where the current chunk began, and how many batches of
it were used) makes a resumed run draw the same noise as the uninterrupted one.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np

NOISE_STREAM, FIXED_NOISE_STREAM, STEP_STREAM = 1, 2, 3  # SeedSequence keys: [seed, stream]
CHUNK = 64  # iterations of noise per draw


def draw(rng: np.random.Generator, shape: tuple, distribution: str = "normal") -> np.ndarray:
    """float32 noise of `shape`: standard normal, or uniform on [-1, 1)."""
    if distribution == "uniform":
        return rng.random(shape, dtype=np.float32) * np.float32(2) - np.float32(1)
    return rng.standard_normal(shape, dtype=np.float32)


class NoiseStream:
    """Batches of `batch_shape` (the global batch); `next()` hands out this process's `shard` of
    each (data-parallel; alone: all of it)."""

    def __init__(self, seed: int, batch_shape: tuple, distribution: str = "normal",
                 shard: slice = slice(None)):
        self.batch_shape, self.distribution = tuple(batch_shape), distribution
        self.shard = shard
        self._rng = np.random.default_rng([seed, NOISE_STREAM])
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paddle_gan-noise")
        self._start_chunk(used=0)

    def _draw(self):
        """(the generator's state at the chunk's start, the chunk); one draw at a time."""
        start = copy.deepcopy(self._rng.bit_generator.state)
        return start, draw(self._rng, (CHUNK, *self.batch_shape), self.distribution)

    def _start_chunk(self, used: int) -> None:
        self._chunk_start, self._chunk = self._draw()
        self._used = used
        self._next = self._worker.submit(self._draw)

    def next(self) -> np.ndarray:
        if self._used == CHUNK:
            self._chunk_start, self._chunk = self._next.result()
            self._used = 0
            self._next = self._worker.submit(self._draw)
        self._used += 1
        return self._chunk[self._used - 1][self.shard]

    def state_dict(self) -> dict:
        return {"bit_generator": copy.deepcopy(self._chunk_start), "used": self._used}

    def load_state_dict(self, state: dict) -> None:
        used = int(state["used"])
        if not 0 <= used <= CHUNK:
            raise ValueError(f"noise stream position {used} is outside 0..{CHUNK}")
        self._next.result()  # the worker is done with the generator before it is reset
        self._rng.bit_generator.state = copy.deepcopy(state["bit_generator"])
        self._start_chunk(used)


def fixed_noise(seed: int, count: int, noise_dim: int, distribution: str = "normal") -> np.ndarray:
    """The noise behind every sample picture of a run (its own stream, drawn once)."""
    return draw(np.random.default_rng([seed, FIXED_NOISE_STREAM]), (count, noise_dim), distribution)


def class_grid(seed: int, num_classes: int, noise_dim: int, distribution: str = "normal",
               columns: int = 10) -> tuple:
    """A conditional run's fixed (noise, labels): `columns` noise vectors, each generated for
    every class, so row c of the picture is class c and a column keeps its noise."""
    noise = fixed_noise(seed, columns, noise_dim, distribution)
    return np.tile(noise, (num_classes, 1)), class_grid_labels(num_classes, num_classes * columns)


def class_grid_labels(num_classes: int, count: int) -> np.ndarray:
    """The labels of `class_grid`'s `count` noise vectors: count / num_classes of each class."""
    return np.repeat(np.arange(num_classes, dtype=np.int64), count // num_classes)


class RandomStream:
    """The step's own seeded generator (what a step draws besides the iteration's noise: WGAN-GP's
    mixing weights, a conditional batch's fake labels, G's extra noise batches), saved with every
    checkpoint so a resumed run draws the same."""

    def __init__(self, seed: int, distribution: str = "normal", rank: int = 0, world: int = 1):
        self.rng = np.random.default_rng([seed, STEP_STREAM])
        self.distribution = distribution
        self.rank, self.world = rank, world  # every process draws for all, keeps its rows

    def _mine(self, drawn: np.ndarray) -> np.ndarray:
        size = len(drawn) // self.world
        return drawn[self.rank * size : (self.rank + 1) * size]

    def noise(self, shape: tuple) -> np.ndarray:
        return self._mine(draw(self.rng, (shape[0] * self.world, *shape[1:]), self.distribution))

    def labels(self, count: int, num_classes: int) -> np.ndarray:
        """`count` classes drawn uniformly, int64."""
        return self._mine(self.rng.integers(0, num_classes, count * self.world, dtype=np.int64))

    def uniform(self, shape: tuple) -> np.ndarray:
        """Uniform on [0, 1), float32 (WGAN-GP's mixing weights)."""
        drawn = self.rng.random((shape[0] * self.world, *shape[1:]), dtype=np.float32)
        return self._mine(drawn)

    def state_dict(self) -> dict:
        # dict(): NumPy types the state as a Mapping; it is a fresh dict each time
        return copy.deepcopy(dict(self.rng.bit_generator.state))

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = copy.deepcopy(state)


def sample_noise(num: int, seed: int, noise_dim: int,
                 distribution: str = "normal") -> np.ndarray:
    """Noise of its own seeded generator, never the run's streams: what tools/generate.py,
    tools/evaluate.py and the metrics plugin draw samples with."""
    return draw(np.random.default_rng(seed), (num, noise_dim), distribution)


def balanced_labels(count: int, num_classes: int) -> np.ndarray:
    """0, 1, ..., K-1, 0, 1, ...: every class equally often (up to one); what the tools and the
    metrics generate a conditional generator's samples for."""
    return np.arange(count, dtype=np.int64) % num_classes
