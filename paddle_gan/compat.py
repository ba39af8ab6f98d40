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

This module imports Paddle; the checkpoint code imports it where it imports Paddle, when used.
"""
from __future__ import annotations

from typing import Dict

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
