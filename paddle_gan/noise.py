"""The generator's input noise: the run's noise stream, the fixed noise of the sample pictures,
and the seeded noise the tools and the metrics draw samples with.

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

NOISE_STREAM, FIXED_NOISE_STREAM = 1, 2  # SeedSequence keys: [seed, stream]
CHUNK = 64  # iterations of noise per draw


class NoiseStream:
    def __init__(self, seed: int, batch_shape: tuple):
        self.batch_shape = tuple(batch_shape)
        self._rng = np.random.default_rng([seed, NOISE_STREAM])
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paddle_gan-noise")
        self._start_chunk(used=0)

    def _draw(self):
        """(the generator's state at the chunk's start, the chunk); one draw at a time."""
        start = copy.deepcopy(self._rng.bit_generator.state)
        return start, self._rng.standard_normal((CHUNK, *self.batch_shape), dtype=np.float32)

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
        return self._chunk[self._used - 1]

    def state_dict(self) -> dict:
        return {"bit_generator": copy.deepcopy(self._chunk_start), "used": self._used}

    def load_state_dict(self, state: dict) -> None:
        used = int(state["used"])
        if not 0 <= used <= CHUNK:
            raise ValueError(f"noise stream position {used} is outside 0..{CHUNK}")
        self._next.result()  # the worker is done with the generator before it is reset
        self._rng.bit_generator.state = copy.deepcopy(state["bit_generator"])
        self._start_chunk(used)


def fixed_noise(seed: int, count: int, noise_dim: int) -> np.ndarray:
    """The noise behind every sample picture of a run (its own stream, drawn once)."""
    rng = np.random.default_rng([seed, FIXED_NOISE_STREAM])
    return rng.standard_normal((count, noise_dim), dtype=np.float32)


def sample_noise(num: int, seed: int, noise_dim: int) -> np.ndarray:
    """Noise of its own seeded generator, never the run's streams: what tools/generate.py,
    tools/evaluate.py and the metrics plugin draw samples with."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num, noise_dim), dtype=np.float32)
