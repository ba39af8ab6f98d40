"""Small builders the tests share: a tiny uniform run's state, one iteration of it, its tensors;
tiny MNIST files and a tiny conditional conf; the resume probe plugin and checkpoint checks."""
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paddle_gan.checkpoint import Checkpointer
from paddle_gan.checkpoint.files import list_checkpoints, load_checkpoint
from paddle_gan.config import resolve_settings
from paddle_gan.plugins.base import Plugin
from paddle_gan.registry import PLUGINS
from paddle_gan.run import build_state
from paddle_gan.trainer import run_iteration

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run in


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
    """tools/<name>.py as a module: the benchmark's baselines are programs of their own."""
    import importlib.util

    path = REPO_ROOT / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"tool_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_mnist(folder: Path, count: int = 64, seed: int = 0, split: str = "train") -> Path:
    """MNIST's train (or t10k) files, `count` random images labelled 0..9 in turn: a data_dir
    for tests."""
    import struct

    prefix = "train" if split == "train" else "t10k"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">iiii", 2051, count, 28, 28)
        + rng.integers(0, 256, (count, 28, 28), dtype=np.uint8).tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
        struct.pack(">ii", 2049, count) + (np.arange(count) % 10).astype(np.uint8).tobytes())
    return folder


CONDITIONAL_CONF = """
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

NOISE_DIM = 4
NUM_CLASSES = {num_classes}
DEFAULTS = {{"loss": {{"name": "non_saturating", "g_batches": 2}},
            "scheduler": {{"name": "alternate"}}, "noise": "uniform"}}


class Generator(nn.Layer):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding({num_classes}, NOISE_DIM)
        self.hidden = nn.Linear(NOISE_DIM, 8)
        self.out = nn.Linear(8, 28 * 28)

    def forward(self, noise, labels):
        x = F.relu(self.hidden(noise * self.embedding(labels)))
        return paddle.tanh(self.out(x)).reshape([-1, 1, 28, 28])


class Discriminator(nn.Layer):
    def __init__(self, logits):
        super().__init__()
        self.hidden = nn.Linear(28 * 28, 8)
        self.dropout = nn.Dropout({dropout})
        self.adversarial = nn.Linear(8, logits)
        self.classes = nn.Linear(8, {class_logits})

    def forward(self, images):
        x = self.dropout(F.leaky_relu(self.hidden(images.reshape([images.shape[0], -1])), 0.2))
        return {outputs}


def build_generator(shape):
    return Generator()


def build_discriminator(shape, logits=1):
    return Discriminator(logits)
"""


def conditional_settings(conf, data_dir, *sets, iters=6, batch=8, data="mnist"):
    """conf/mnist.yaml's settings with `conf` (its scheduler: the conf's alternate)."""
    return resolve_settings(None, [f"conf={conf}", f"data_dir={data_dir}",
                                   "scheduler.name=alternate", *sets],
                            {"num_passes": 1, "iters_per_pass": iters, "batch_size": batch}, data)


def conditional_conf(path: Path, num_classes="10", dropout: float = 0.3,
                     class_logits: int = 10, class_head: bool = True) -> Path:
    """A tiny conditional conf module in the AC-GAN's shape (noise times a class embedding; D
    with dropout and two heads), at MLP size, for MNIST's 28x28 images."""
    outputs = "self.adversarial(x), self.classes(x)" if class_head else "self.adversarial(x)"
    path.write_text(CONDITIONAL_CONF.format(num_classes=num_classes, dropout=dropout,
                                            class_logits=class_logits, outputs=outputs))
    return path


EVENTS = []  # what the probe saw, across the runs of one test


@PLUGINS.register("resume_probe")
class ResumeProbe(Plugin):
    """Records every hook with the losses and the noise generator's state after each draw, keeps a
    step count as plugin state, sends this process a signal after step `kill_at` and poisons D
    right before step `nan_at`."""

    name = "resume_probe"
    writes_files = False

    @dataclass
    class Options:
        kill_at: int = 0
        signal: str = "SIGTERM"
        nan_at: int = 0  # the forward losses of this step are NaN

    def __init__(self, options):
        self.kill_at, self.nan_at, self.steps = options.kill_at, options.nan_at, 0
        self.signal = signal.Signals[options.signal]

    def on_pass_start(self, state):
        EVENTS.append(("pass_start", state.pass_id))

    def on_step_end(self, state):
        self.steps += 1
        EVENTS.append(("step", state.global_step, state.result.decision,
                       tuple(state.result.losses.items()), repr(state.noise.state_dict())))
        if state.global_step == self.kill_at:
            os.kill(os.getpid(), self.signal)

    def on_train_start(self, state):
        forward = state.step.forward

        def poisoned_forward(*batch, **options):
            if state.global_step + 1 == self.nan_at:  # D's output bias turns NaN, so do the logits
                for net in (state.nets.dis_training, state.nets.gen_training):
                    bias = dict(net.named_parameters())["dis.out.bias"]
                    bias.set_value(np.full(bias.shape, np.nan, np.float32))
            return forward(*batch, **options)

        state.step.forward = poisoned_forward

    def on_pass_end(self, state):
        EVENTS.append(("pass_end", state.pass_id))

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


def newest(out_dir):
    return list_checkpoints(out_dir / "checkpoints")[-1]


def assert_same_train_state(ckpt_a, ckpt_b):
    arrays_a, meta_a = load_checkpoint(ckpt_a)
    arrays_b, meta_b = load_checkpoint(ckpt_b)
    assert arrays_a.keys() == arrays_b.keys()
    assert any(k.startswith("opt/opt_g/") and "moment1" in k for k in arrays_a)
    assert any(k.startswith("opt/opt_d/") and "beta2_pow" in k for k in arrays_a)
    for key in arrays_a:  # bitwise: the same bytes, not merely close values
        assert arrays_a[key].dtype == arrays_b[key].dtype, key
        assert arrays_a[key].tobytes() == arrays_b[key].tobytes(), key
    for part in ("saved_at", "counters", "scheduler", "sampler", "rng", "plugins"):
        assert meta_a[part] == meta_b[part], part
