"""Where Paddle 2.6 and 3.x differ for this code, and how it runs the same on both.

The project targets Paddle 3.x, but `pip install paddlepaddle-gpu` from PyPI gives 2.6, so both
must work. The differences the code meets, what is done about each, and why:

1. Adam's state in checkpoints. Adam makes its moments and beta powers at its first update. A
   resume used to make them early with the private `Optimizer._create_accumulators`, which works
   on 3.x and fails on 2.6 (`AssertionError` in `_add_accumulator`: the helper it needs is made
   by an update's `_create_optimization_pass`). Both versions now use the public `state_dict()` and
   `set_state_dict()`: `optimizer_state` keys the state by structural parameter names
   (`moment1/dis_training/dis.out.bias`, as checkpoints always stored it), never by Paddle's
   per-process names (`linear_0.w_0_moment1_0`), and `set_optimizer_state` sets it back by the
   names `state_dict()` reports, after letting a fresh Adam make its state with one update on
   zero gradients (a zero moment moves no parameter, and every value is then overwritten), so a
   resume stays bit for bit.
2. Paddle's random generator. 3.x pickles a generator state as (device, seed, offset, engine);
   2.6 drops the engine, so its position can be kept in memory (`paddle.get_rng_state`) but not
   written to a file or read from one. On 2.6 `paddle_rng_state` gives the state the run was
   resumed from as long as the generator has not drawn since (checked in memory: `_unset`, this
   module's one piece of process state, as the generator is the process's), else None; so a run
   resumed on 2.6 writes the state a 3.x run would, and a checkpoint of 3.x resumed on 2.6 ends
   as on 3.x. The built-in confs draw from Paddle's generator only to initialise weights, before
   training, so they resume exactly on 2.6 too; a conf that draws while training (dropout) does
   not, and the resume warns.
3. Exporting v1's batch norm (batch statistics at inference). `paddle.jit.save` in the legacy
   program format (`.pdmodel`: 2.6's only one; 3.x writes PIR `.json` unless FLAGS_enable_pir_api
   is off) drops batch_norm's ReserveSpace output when it makes the inference program
   (`Program._inference_optimize` assumes inference reads running averages), and the
   batch-statistics kernel then fails on load ("Required tensor shall not be nullptr").
   `exportable` swaps such batch norms, for the save only, for the same normalisation written in
   plain tensor ops, which both formats run; the export still compares the reloaded model with
   the generator. `program_suffix` names the program file the save writes.

This module imports Paddle; the checkpoint code imports it where it imports Paddle, when used.
"""
from __future__ import annotations

import contextlib
from typing import Dict, Iterator, Optional

import numpy as np
import paddle
import paddle.nn as nn

# --- 1. Adam's state, keyed by structural names ---------------------------------------------


def _structural_keys(state: dict, params: Dict[str, paddle.Tensor]) -> Dict[str, str]:
    """Paddle's key in `state_dict()` -> `<accumulator>/<structural name>`. Paddle names a
    parameter's state `<param.name>_<accumulator>_<n>` (n: its unique-name counter)."""
    structural = {param.name: name for name, param in params.items()}
    keys = {}
    for key, value in state.items():
        owner = max((p for p in structural if key.startswith(p + "_")), key=len, default="")
        accumulator, _, counter = key[len(owner) + 1:].rpartition("_")
        if not (owner and accumulator and counter.isdigit() and isinstance(value, paddle.Tensor)):
            raise ValueError(f"optimiser state {key!r} belongs to none of the parameters")
        keys[key] = f"{accumulator}/{structural[owner]}"
    return keys


def optimizer_state(optimizer, params: Dict[str, paddle.Tensor]) -> Dict[str, np.ndarray]:
    """The optimiser's state as {"<accumulator>/<structural name>": array}; `params` maps the
    structural names to the parameters."""
    state = optimizer.state_dict()
    return {name: state[key].numpy() for key, name in _structural_keys(state, params).items()}


def set_optimizer_state(optimizer, params: Dict[str, paddle.Tensor],
                        saved: Dict[str, np.ndarray]) -> None:
    """Set the optimiser's state to `saved` (as `optimizer_state` gave it), value for value."""
    if saved and not optimizer.state_dict():
        owners = sorted({key.split("/", 1)[1] for key in saved})
        unknown = [name for name in owners if name not in params]
        if unknown:
            raise ValueError(f"optimiser state for unknown parameters {unknown[:3]}")
        # Adam makes its state at its first update; this one (zero gradients, zero moments)
        # leaves the parameters as they are, and the state it makes is overwritten below.
        paddle.add_n([(params[name] * 0).sum() for name in owners]).backward()
        optimizer.step()
        optimizer.clear_grad(set_to_zero=False)  # no gradient held, as before any update
    state = optimizer.state_dict()
    keys = _structural_keys(state, params)
    if set(keys.values()) != set(saved):
        raise ValueError(f"optimiser state does not match this optimiser "
                         f"({sorted(set(keys.values()) ^ set(saved))[:3]})")
    for key, name in keys.items():
        held, value = state[key], saved[name]
        if list(value.shape) != list(held.shape) or str(value.dtype) not in str(held.dtype):
            raise ValueError(f"optimiser state {name} is {value.dtype}{list(value.shape)}, the "
                             f"optimiser holds {held.dtype}{list(held.shape)}")
    optimizer.set_state_dict({key: saved[name] for key, name in keys.items()})


# --- 2. Paddle's random generator -----------------------------------------------------------

# 2.6 only: (the state set_paddle_rng_state could not set, the generator right after it).
_unset = None


def _same_generator_state(a, b) -> bool:
    # 2.6's states expose nothing to compare; equal states draw the same numbers.
    current = paddle.get_rng_state()
    try:
        draws = []
        for state in (a, b):
            paddle.set_rng_state(state)
            draws.append(paddle.randint(0, 2**31 - 1, [8]).numpy().tolist())
        return draws[0] == draws[1]
    finally:
        paddle.set_rng_state(current)


def paddle_rng_state() -> Optional[list]:
    """Paddle's generator state(s) for the current device as JSON: [[device, seed, offset,
    engine]] on 3.x; on 2.6 the state last restored while unused since, else None."""
    current = paddle.get_rng_state()
    fields = [state.__getstate__() for state in current]
    if all(len(f) == 4 for f in fields):
        return [[int(device), int(seed), int(offset), bytes(engine).decode("ascii")]
                for device, seed, offset, engine in fields]
    if _unset is not None and _same_generator_state(_unset[1], current):
        return _unset[0]
    return None


def set_paddle_rng_state(encoded: Optional[list]) -> Optional[str]:
    """Set Paddle's generator from `paddle_rng_state()`'s JSON; None when done, else why not."""
    global _unset
    current = paddle.get_rng_state()
    usable = encoded is not None and len(encoded) == len(current)
    if len(current[0].__getstate__()) != 4:
        _unset = (encoded, current) if usable else None
        return "Paddle 2.6 cannot set a generator's position"
    if encoded is None:
        return "the checkpoint holds none (written by Paddle 2.6)"
    if not usable:
        return "the checkpoint holds another device's"
    states = []
    for entry, like in zip(encoded, current):
        device, seed, offset, engine = entry
        if not (all(isinstance(n, int) and not isinstance(n, bool) and -2**63 <= n < 2**64
                    for n in (device, seed, offset)) and isinstance(engine, str)):
            raise ValueError(f"Paddle generator state {str(entry)[:60]} is malformed")
        state = type(like).__new__(type(like))
        state.__setstate__((device, seed, offset, list(engine.encode("ascii"))))
        states.append(state)
    paddle.set_rng_state(states)
    return None


# --- 3. Export of batch norms that use batch statistics -------------------------------------

def program_suffix() -> str:
    """The program file `paddle.jit.save` writes: `.json` (PIR, 3.x) or `.pdmodel` (legacy)."""
    return ".json" if paddle.framework.use_pir_api() else ".pdmodel"


class BatchStatisticsNorm(nn.Layer):
    """A batch norm that normalises with the batch's own statistics, in plain tensor ops; it
    shares the weight and bias of the batch norm it stands in for."""

    def __init__(self, bn: nn.layer.norm._BatchNormBase):
        super().__init__()
        self.weight, self.bias, self._epsilon = bn.weight, bn.bias, bn._epsilon
        self._channel_last = bn._data_format in ("NLC", "NHWC", "NDHWC")

    def forward(self, x):
        axis = x.ndim - 1 if self._channel_last else 1
        reduce = [i for i in range(x.ndim) if i != axis]
        shape = [-1 if i == axis else 1 for i in range(x.ndim)]
        mean = x.mean(axis=reduce, keepdim=True)
        var = ((x - mean) ** 2).mean(axis=reduce, keepdim=True)  # biased, as batch_norm's
        y = (x - mean) / paddle.sqrt(var + self._epsilon)
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y


@contextlib.contextmanager
def exportable(layer: nn.Layer) -> Iterator[nn.Layer]:
    """`layer` as `paddle.jit.save` can export it: in the legacy format its batch-statistics
    batch norms are `BatchStatisticsNorm`s until the block ends."""
    swapped = []
    if not paddle.framework.use_pir_api():
        swapped = [(parent, name, child) for parent in layer.sublayers(include_self=True)
                   for name, child in parent.named_children()
                   if isinstance(child, nn.layer.norm._BatchNormBase)
                   and child._use_global_stats is False]
    for parent, name, child in swapped:
        parent.add_sublayer(name, BatchStatisticsNorm(child))
    try:
        yield layer
    finally:
        for parent, name, child in swapped:
            parent.add_sublayer(name, child)
