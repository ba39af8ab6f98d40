"""What goes into a checkpoint and how it comes back: the whole train state as arrays + JSON.

A checkpoint holds everything a run needs to continue bit for bit: the three networks' parameters
and batch-norm statistics, both optimisers' moments, the scheduler, the sampler's position, every
random stream (Python, NumPy, the noise generator, Paddle), the counters, the fixed sample noise,
each plugin's `state_dict()` and the resolved settings. Tensors are keyed by structural names
(`gen_training/gen.hidden.weight`), never by Paddle's per-process names, so any fresh process can
load them. `check_settings` decides which settings a resumed run may change. How the arrays and
the JSON are stored is `files`' business.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Dict, List, Protocol, Sequence, Tuple, cast

import numpy as np

from ..config import Settings, deep_merge, flatten_settings, settings_to_dict
from ..errors import CheckpointError, shorten
from ..roles import DIS, GEN
from ..state import StepResult

if TYPE_CHECKING:
    import paddle

    from ..state import TrainState

log = logging.getLogger(__name__)

FORMAT = "paddle_gan.train_state/2"  # 2: the noise stream saves its chunk start and use
# Still read: /1 saved the noise generator's state at the next draw, which is /2's state with
# none of its chunk used, so a /1 checkpoint resumes exactly.
READABLE_FORMATS = ("paddle_gan.train_state/1", FORMAT)
NETWORKS = ("gen_training", "dis_training", "generator")
OPTIMIZERS = ("opt_g", "opt_d")
# Resuming with another data source, data size, conf or packing cannot continue the same run;
# any other setting may change (more passes, a new output dir), and a change that alters the
# results is reported. Settings that only say where and how long to run are not.
REFUSED = ("data", "conf", "data_size", "packing")  # packing: D's input layer has another size
# A 2-D source's own section (`ring.sigma`, ...) is refused like data_size when it is the run's
# data, and is ignored for a run on any other data (checkpoints older than the sections have
# none).
DATA_SECTIONS = ("ring", "grid")
QUIET = ("num_passes", "output_dir", "resume", "use_gpu", "gpu_id", "data_dir", "plugins",
         "plugin_options", "storage_options", "remote_cache", "timeouts")


# What a damaged or hand-made meta.json makes restoring raise (a wrong type, a missing key, a
# value out of range): one CheckpointError line, never a traceback.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


def _count(value) -> int:
    """A counter from the meta: a non-negative int (a bool or float is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"counter {value!r} is not a non-negative integer")
    return value


def check_fixed_noise(noise: np.ndarray, noise_dim: int, num_classes: int = 0) -> np.ndarray:
    """The run's fixed noise as saved, if it can be: finite float32 [N, noise_dim], with N a
    multiple of a conditional run's classes (the picture has a row for each)."""
    if noise.ndim != 2 or noise.shape[1] != noise_dim or noise.dtype != np.float32 or not len(
            noise) or not np.isfinite(noise).all():
        raise ValueError(f"fixed_noise is {noise.dtype}{list(noise.shape)}, not finite "
                         f"float32 [N, {noise_dim}]")
    if num_classes and len(noise) % num_classes:
        raise ValueError(f"fixed_noise holds {len(noise)} vectors, not a multiple of the "
                         f"{num_classes} classes")
    return noise


class Stateful(Protocol):
    """What a checkpoint keeps of a plugin: its name and its `state_dict()`."""

    name: str

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


# --- what goes into a checkpoint -------------------------------------------------------------

def _parameters(nets) -> Dict[str, paddle.Tensor]:
    """`<network>/<name>` -> parameter, over the three networks (optimiser state's keys)."""
    params: Dict[str, paddle.Tensor] = {}
    for net in NETWORKS:
        for name, param in getattr(nets, net).named_parameters():
            params.setdefault(f"{net}/{name}", param)
    return params


def collect(state: TrainState, plugins: Sequence[Stateful], pass_end: bool = False,
            reason: str = "") -> Tuple[Dict[str, np.ndarray], dict]:
    """(arrays, meta) of the whole training state. At a pass end the counters are those of the
    next pass's start, so a resumed run does not fire the pass-end hooks a second time."""
    from .. import compat  # imports Paddle, which a checkpoint module imports only when used

    nets = state.nets
    arrays = {"fixed_noise": state.fixed_noise}
    for net in NETWORKS:
        for name, tensor in getattr(nets, net).state_dict().items():
            arrays[f"net/{net}/{name}"] = tensor.numpy()
    params = _parameters(nets)
    for opt in OPTIMIZERS:  # Adam's moments and beta powers, `<accumulator>/<network>/<name>`
        for key, value in compat.optimizer_state(getattr(nets, opt), params).items():
            arrays[f"opt/{opt}/{key}"] = value
    # NumPy's stub types get_state() as get_state(legacy=False)'s dict; the default is this tuple
    legacy = cast(Tuple[str, np.ndarray, int, int, float], np.random.get_state())
    arrays["rng/numpy_global_keys"] = legacy[1]
    py_version, py_internal, py_gauss = state.py_random.getstate()
    resume_at = (state.pass_id + 1, 0) if pass_end else (state.pass_id, state.iteration)
    meta = {
        "format": FORMAT,
        "world_size": state.nets.ranks.world,  # data-parallel processes (1: alone)
        "saved_at": {"pass_id": state.pass_id, "iteration": state.iteration,
                     "global_step": state.global_step, "pass_end": pass_end, "reason": reason},
        "counters": {"pass_id": resume_at[0], "iteration": resume_at[1],
                     "global_step": state.global_step, "decision": state.result.decision,
                     "strike": state.strike, "pass_counts": dict(state.pass_counts),
                     "losses": dict(state.result.losses)},
        "scheduler": state.scheduler.state_dict(),
        "sampler": state.sampler.state_dict(),
        "rng": {
            "noise": state.noise.state_dict(),
            "python": [py_version, list(py_internal), py_gauss],
            "numpy_global": [legacy[0], int(legacy[2]), int(legacy[3]), float(legacy[4])],
            "paddle": compat.paddle_rng_state(),
            "step": state.step.rng.state_dict(),
        },
        "plugins": {p.name: p.state_dict() for p in plugins},
        "settings": settings_to_dict(state.settings),
        "sample": {"noise_dim": int(nets.noise_dim), "shape": list(nets.sample_shape),
                   "pixel_range": (list(state.dataset.pixel_range)
                                   if state.dataset.pixel_range else None),
                   "noise": state.settings.noise, "num_classes": int(nets.num_classes)},
    }
    return arrays, meta


def shared_by_ranks(arrays: Dict[str, np.ndarray], meta: dict) -> Dict[str, np.ndarray]:
    """What every rank of a data-parallel run holds the same: every array (parameters,
    statistics, optimiser state, fixed noise) and the counters, scheduler, sampler and random
    streams (all but Paddle's generator, which is each rank's own)."""
    rng = {k: v for k, v in meta["rng"].items() if k != "paddle"}
    same = {k: meta[k] for k in ("counters", "scheduler", "sampler")}
    text = json.dumps({**same, "rng": rng}, sort_keys=True, default=str)
    return {**arrays, "meta: counters, scheduler, sampler, random streams":
            np.frombuffer(text.encode(), dtype=np.uint8)}


def non_finite(arrays: Dict[str, np.ndarray]) -> List[str]:
    """Names of the floating-point arrays holding NaN or Inf."""
    return [k for k, v in arrays.items()
            if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all()]


# --- restoring ---------------------------------------------------------------------------------

def load_tensors(layer, arrays: Dict[str, np.ndarray], prefix: str, where) -> None:
    """Set every parameter and buffer of `layer` in place from `arrays[prefix + name]`; the names,
    shapes and dtypes must match exactly (in place, so the sync pairs stay valid)."""
    tensors = layer.state_dict()
    saved = {k[len(prefix):] for k in arrays if k.startswith(prefix)}
    if saved != set(tensors):
        missing, extra = sorted(set(tensors) - saved), sorted(saved - set(tensors))
        raise CheckpointError(f"{where}: {prefix.rstrip('/')} does not match the conf module "
                              f"(missing {missing[:3]}, unexpected {extra[:3]})")
    for name, tensor in tensors.items():
        value = arrays[prefix + name]
        if list(value.shape) != list(tensor.shape) or str(value.dtype) not in str(tensor.dtype):
            raise CheckpointError(f"{where}: {prefix}{name} is {value.dtype}{list(value.shape)}, "
                                  f"the network has {tensor.dtype}{list(tensor.shape)}")
        tensor.set_value(value)


def restore(state: TrainState, plugins: Sequence[Stateful], arrays: Dict[str, np.ndarray],
            meta: dict, where) -> None:
    """Put a loaded checkpoint into a freshly built state and its plugins."""
    from .. import compat

    if meta.get("format") not in READABLE_FORMATS:
        raise CheckpointError(f"{where}: not a {FORMAT} checkpoint")
    saved_world, world = meta.get("world_size", 1), state.nets.ranks.world
    if saved_world != world:
        raise CheckpointError(
            f"{where} was saved by a run of {saved_world} process(es) (each with its shard of "
            f"every batch and its own random state); resume it with {saved_world} "
            f"(paddle.distributed.launch --nproc_per_node), this run has {world}")
    try:
        nets = state.nets
        for net in NETWORKS:
            load_tensors(getattr(nets, net), arrays, f"net/{net}/", where)
        params = _parameters(nets)
        for opt in OPTIMIZERS:
            prefix = f"opt/{opt}/"
            saved = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            try:
                compat.set_optimizer_state(getattr(nets, opt), params, saved)
            except ValueError as e:
                raise CheckpointError(f"{where}: {opt}: {e}") from None
        state.fixed_noise = check_fixed_noise(arrays["fixed_noise"], nets.noise_dim,
                                              nets.num_classes)
        counters = meta["counters"]
        state.pass_id, state.iteration = (_count(counters["pass_id"]),
                                          _count(counters["iteration"]))
        state.global_step, state.strike = (_count(counters["global_step"]),
                                           _count(counters["strike"]))
        if counters["decision"] not in ("", DIS, GEN):
            raise ValueError(f"decision {counters['decision']!r}")
        state.result = StepResult(counters["decision"],
                                  {str(k): float(v) for k, v in counters["losses"].items()})
        state.pass_counts = {net: _count(counters["pass_counts"][net]) for net in (DIS, GEN)}
        state.scheduler.load_state_dict(meta["scheduler"])
        state.sampler.load_state_dict(meta["sampler"])
        rng = meta["rng"]
        noise = rng["noise"] if meta["format"] == FORMAT else {"bit_generator": rng["noise"],
                                                                "used": 0}
        state.noise.load_state_dict(noise)
        version, internal, gauss = rng["python"]
        state.py_random.setstate((version, tuple(internal), gauss))
        kind, pos, has_gauss, cached = rng["numpy_global"]
        np.random.set_state((kind, arrays["rng/numpy_global_keys"], pos, has_gauss, cached))
        if "step" in rng:  # checkpoints from before the step drew anything have none
            state.step.rng.load_state_dict(rng["step"])
        mine = rng["paddle_ranks"][nets.ranks.rank] if world > 1 else rng["paddle"]
        why_not = compat.set_paddle_rng_state(mine)
        if why_not:  # harmless unless the conf draws from it while training (dropout)
            log.warning(f"checkpoint: Paddle's random generator not restored ({why_not}); a "
                        f"conf that draws from it while training (dropout) will not continue "
                        f"exactly")
        saved_plugins = meta.get("plugins", {})
        if not isinstance(saved_plugins, dict):
            raise TypeError("the plugins' states are not a mapping")
        for plugin in plugins:
            if plugin.name in saved_plugins:
                plugin.load_state_dict(saved_plugins[plugin.name])
    except MALFORMED as e:
        raise CheckpointError(f"{where}: incomplete or malformed train state "
                              f"({type(e).__name__}: {shorten(str(e), 120)})") from None
    unused = sorted(set(saved_plugins) - {p.name for p in plugins})
    if unused:
        log.info(f"checkpoint: state of plugin(s) {', '.join(unused)} not used by this run")


def check_settings(saved: dict, current: dict, where) -> List[str]:
    """Refuse a resume that cannot continue the same run; warn about changes to its results and
    return their names."""
    if not isinstance(saved, dict):
        raise CheckpointError(f"{where}: its settings are not a mapping")
    # A setting newer than the checkpoint had its default then: compare with that.
    defaults = settings_to_dict(Settings())
    old, new = flatten_settings(deep_merge(defaults, saved)), flatten_settings(current)
    changed = [k for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]
    other_sections = [name for name in DATA_SECTIONS if name != saved.get("data")]
    changed = [k for k in changed if k.split(".")[0] not in other_sections]
    for key in changed:
        if key in REFUSED or key.split(".")[0] in DATA_SECTIONS:
            raise CheckpointError(f"{where} was saved with {key}={old.get(key)!r}, this run has "
                                  f"{key}={new.get(key)!r}; resume with the same {key} or start "
                                  f"a new output dir")
    # a decaying learning rate is spread over the run: its length then shapes the results too
    decays = any(new.get(f"{opt}.decay", "none") not in ("none", None)
                 for opt in ("optimizer", "optimizer_d", "optimizer_g"))
    quiet = [k for k in QUIET if not (decays and k == "num_passes")]
    loud = [k for k in changed if k.split(".")[0] not in quiet]
    if loud:
        what = ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in loud)
        log.warning(f"resuming with changed settings: {what} (the run will not continue exactly "
                    f"as it would have)")
    return loud
