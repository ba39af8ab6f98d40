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

This module imports Paddle; the checkpoint code imports it where it imports Paddle, when used.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import paddle

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
    for (device, seed, offset, engine), like in zip(encoded, current):
        state = type(like).__new__(type(like))
        state.__setstate__((device, seed, offset, list(engine.encode("ascii"))))
        states.append(state)
    paddle.set_rng_state(states)
    return None
