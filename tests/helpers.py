"""Small builders the tests share: a tiny uniform run's state, one iteration of it, its tensors."""
from pathlib import Path

import numpy as np

from paddle_gan.checkpoint import Checkpointer
from paddle_gan.config import resolve_settings
from paddle_gan.run import build_state
from paddle_gan.trainer import run_iteration


def tiny_state(tmp_path: Path, passes=1, iters=12, batch=16, data_size=512, sets=(),
               data="uniform", plugins=()):
    """A uniform run's state as the trainer builds it (no plugins, nothing written yet), with a
    checkpointer saving under tmp_path."""
    settings = resolve_settings(None, [f"data_size={data_size}", *sets], {
        "num_passes": passes, "iters_per_pass": iters, "batch_size": batch}, data)
    state = build_state(settings, Path(tmp_path))
    state.checkpointer = Checkpointer(tmp_path, list(plugins))
    return state


def step_once(state, plugins=()) -> str:
    """One more iteration exactly as the trainer runs it; the network it trained."""
    if state.iteration == 0 and state.sampler.shuffle_id < 0:
        state.start_pass()
    run_iteration(state, plugins)
    return state.result.decision


def tensors(state) -> dict:
    """Every parameter and buffer of the three networks, by `<network>/<name>`, as numpy."""
    return {f"{net}/{name}": np.array(t.numpy())
            for net in ("gen_training", "dis_training", "generator")
            for name, t in getattr(state.nets, net).state_dict().items()}


def load_tool(name: str):
    """tools/<name>.py as a module (the tools are scripts, not a package)."""
    import importlib.util

    from paddle_gan.config import REPO_ROOT

    path = REPO_ROOT / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"tool_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_mnist(folder: Path, count: int = 64, seed: int = 0) -> Path:
    """MNIST's train files, `count` random images and labels: a data_dir for tests."""
    import struct

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    (folder / "train-images-idx3-ubyte").write_bytes(
        struct.pack(">iiii", 2051, count, 28, 28)
        + rng.integers(0, 256, (count, 28, 28), dtype=np.uint8).tobytes())
    (folder / "train-labels-idx1-ubyte").write_bytes(
        struct.pack(">ii", 2049, count) + (np.arange(count) % 10).astype(np.uint8).tobytes())
    return folder
