"""The benchmark of `paddle-gan benchmark` (and `python tools/benchmark.py`): speed and memory.

Where an iteration of our trainer spends its time, how much arithmetic that is, and how it compares
with a plain Paddle version (and, asked, PyTorch). For each case (a run config: uniform and mnist,
v1's GANs; mnist_mlp and mnist_leaky, the TensorFlow MLP GANs; mnist_acgan, the Keras AC-GAN with
its first generator, conf/acgan.py) it
builds the run as the trainer does (`run.build_state`, the YAML's plugins) and runs the trainer's
own iteration, `trainer.run_iteration`, with a clock on each of its parts (batch, scheduler
forwards, the scheduler's pick, that network's update, step-end hooks, sync, sync hooks), so every
compute part (a D step and a G step separately) gets a median after warm-up and every overhead part
(data, decision, plugins, sync) a mean, since its costs come in bursts; the iteration is the median
compute plus the mean overhead. Under the `alternate` schedule, whose D and G iterations come 1:1
and can differ several-fold (the AC-GAN's), whole cycles are measured (iteration counts rounded
up) and the median compute is each network's median iteration weighted by its share, as a median
of the mix would be one of the two. The same function timed
whole, without the clock, is the cross-check. FLOPs are counted from the layer shapes (nominal
work, as the plain execution path does it: backward = 2x forward, G's update on `loss.g_batches`
batches) and set against a 2048^3 float32 matmul timed in this process with the same threads. Then,
in subprocesses: a short whole MNIST training run (its peak memory), the plain baseline
(tools/benchmark_plain.py, environment as installed; a wheel carries it) and, when asked and
torch is importable, tools/benchmark_torch.py. Pass-end hooks (sample pictures, checkpoints) run
once a pass and are reported apart from the iteration. `--layers` times instead each
convolution of the MNIST DCGAN alone, as Paddle's layer and as paddle_gan.fast_conv's, forward
and forward+backward.

Exit codes: 0 done; 1 a subprocess (plain baseline, torch, the short run) failed; 2 bad usage,
config or missing data; 3 training diverged.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import runtime
from .config import RESOURCES, resolve_settings, resource_path
from .errors import ConfigError

TOOLS = RESOURCES / "tools"  # the baselines: plain Paddle and PyTorch programs of their own
RANKS_WORKER = Path(__file__).resolve().parent / "cli" / "benchmark_ranks.py"  # --nproc's program
# What can be timed: a run config each (its data, conf, loss, schedule and batch).
CASES = {"uniform": "conf/uniform.yaml", "mnist": "conf/mnist.yaml",
         "mnist_mlp": "conf/mnist_mlp.yaml", "mnist_leaky": "conf/mnist_leaky.yaml",
         "mnist_acgan": "conf/mnist_acgan.yaml", "ring": "conf/ring.yaml"}
# Settings a case pins (none: every case times its run config as a user runs it).
CASE_SETS: Dict[str, List[str]] = {}
DEFAULT_ITERS = {"uniform": 1000, "mnist": 30, "mnist_mlp": 300, "mnist_leaky": 300,
                 "mnist_acgan": 6, "ring": 300}
# The other counts' defaults. The AC-GAN's G update (2 x 100 samples) is about 1 TFLOP, seconds
# on a small CPU, and the plain baseline is slower still: few iterations of everything.
DEFAULT_COUNTS = {"warmup": 5, "plain_iters": 20, "check_iters": 10}
CASE_COUNTS = {"mnist_acgan": {"warmup": 2, "plain_iters": 6, "check_iters": 4}}
MATMUL_N = 2048
# The environment a Paddle user has out of the box: our trainer sets these, so the plain
# baseline runs without them.
TRAINER_ENV = ("OMP_NUM_THREADS", "MKL_DEBUG_CPU_TYPE")
MNIST_HINT = "MNIST_SOURCE=../shared/data/mnist bash data/get_mnist_data.sh"
# --layers: the MNIST DCGAN's convolutions at v1's batch. At most 20 measured repetitions, as the
# table then takes about a minute on 2 cores.
LAYERS_CONF, LAYERS_SAMPLE, LAYERS_BATCH = "conf/gan_conf_image.py", (1, 28, 28), 128
LAYERS_WARMUP, LAYERS_MAX_ITERS = 3, 20
# Parts of an iteration, in the order they run. "forwards" is compute (the loss forwards, which
# the fast step's update reuses; with `alternate` only those of the planned update); "decision"
# is the scheduler's pick plus the finite checks and counter updates.
PARTS = ("data", "forwards", "decision", "d_step", "g_step", "plugins", "sync")
OVERHEAD = ("data", "decision", "plugins", "sync")
LABELS = {
    "data": "data (batch draw + noise)",
    "forwards": "loss forwards",
    "decision": "scheduler decision",
    "d_step": "D step (2 batches)",
    "g_step": "G step",
    "plugins": "plugins (step end + sync)",
    "sync": "parameter sync",
}


class BenchmarkError(Exception):
    """A subprocess of the benchmark failed; the message names it and its last words."""


# --- arithmetic --------------------------------------------------------------------------------

def counted_layers() -> tuple:
    """The layer types whose FLOPs are counted (activations and batch norm are left out)."""
    import paddle.nn as nn

    return (nn.Linear, nn.Conv2D, nn.Conv2DTranspose)


def layer_flops(layer, in_shape, out_shape) -> int:
    """Multiply-adds x 2 of one Linear / Conv2D / Conv2DTranspose call, per sample (0 otherwise).
    Paddle keeps Linear weights as [in, out], Conv2D as [Cout, Cin/g, k, k] and Conv2DTranspose
    as [Cin, Cout/g, k, k]; a transposed convolution's work follows its input's spatial size."""
    import paddle.nn as nn

    if not isinstance(layer, counted_layers()):
        return 0
    weight = list(layer.weight.shape)
    if isinstance(layer, nn.Linear):
        return 2 * weight[0] * weight[1]
    channels_last = getattr(layer, "_data_format", "NCHW") == "NHWC"
    shape = in_shape if isinstance(layer, nn.Conv2DTranspose) else out_shape
    height, width = (shape[1], shape[2]) if channels_last else (shape[2], shape[3])
    return 2 * math.prod(weight) * height * width


def generator_inputs(conf, noise) -> tuple:
    """G's inputs for a batch of noise: the noise, and for a conditional conf (NUM_CLASSES) one
    class label per sample."""
    import paddle

    classes = int(getattr(conf, "NUM_CLASSES", 0))
    if not classes:
        return (noise,)
    return noise, paddle.arange(noise.shape[0], dtype="int64") % classes


def forward_flops(conf, sample_shape, logits: int = 2) -> Dict[str, int]:
    """FLOPs of one forward pass per sample: {"gen": G, "dis": D}, counted with forward hooks on
    fresh networks from the conf module (the trained ones keep their modes untouched). Every
    counted layer of D counts, both heads of a conditional D included."""
    import paddle

    counts = {"gen": 0, "dis": 0}
    gen = conf.build_generator(tuple(sample_shape))
    dis = conf.build_discriminator(tuple(sample_shape), logits)
    handles = []
    for key, net in (("gen", gen), ("dis", dis)):
        for sub in net.sublayers(include_self=True):
            if not isinstance(sub, counted_layers()):
                continue

            def hook(layer, inputs, output, key=key):
                counts[key] += layer_flops(layer, list(inputs[0].shape), list(output.shape))
            handles.append(sub.register_forward_post_hook(hook))
    gen.eval()
    dis.eval()
    with paddle.no_grad():
        dis(gen(*generator_inputs(conf, paddle.zeros([1, int(conf.NOISE_DIM)]))))
    for handle in handles:
        handle.remove()
    return counts


def step_flops(per_sample: Dict[str, int], batch: int, g_batches: int = 1) -> Dict[str, int]:
    """Nominal FLOPs of each part for one batch, as the plain execution path computes them: the
    four scheduler forwards (G, D real, D fake, G+D), a D step (two batches, forward + backward =
    3x forward) and a G step on `g_batches` batches (`loss.g_batches`: the AC-GAN's is on 2)."""
    gen, dis = per_sample["gen"], per_sample["dis"]
    return {
        "forwards": batch * (2 * gen + 3 * dis),
        "d_step": batch * 2 * 3 * dis,
        "g_step": g_batches * batch * 3 * (gen + dis),
    }


def matmul_peak_gflops(n: int = MATMUL_N, repeats: int = 3) -> float:
    """Best GFLOP/s of an n^3 float32 paddle.matmul, in this process with its threads."""
    import paddle

    a, b = paddle.rand([n, n], dtype="float32"), paddle.rand([n, n], dtype="float32")
    paddle.matmul(a, b)  # first call: allocations and kernel selection
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        paddle.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --- our trainer, timed part by part -----------------------------------------------------------

@contextlib.contextmanager
def log_to_file(output_dir: Path):
    """The console plugin logs as in a real run (to train.log), without flooding the terminal."""
    log = logging.getLogger("paddle_gan")
    saved = (log.handlers[:], log.level, log.propagate)
    handler = logging.FileHandler(output_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.handlers, log.level, log.propagate = [handler], logging.INFO, False
    try:
        yield
    finally:
        handler.close()
        log.handlers, log.level, log.propagate = saved


class FlopCounter:
    """The FLOPs an iteration executes, as it executes them: every counted layer's forward (a
    forward hook on the training networks), and its backward, as far as it runs: a hook on the
    layer's output adds the input gradient's work when the backward reaches the layer and its input
    needs a gradient, a hook on its weight the weight gradient's (for every call since the weight's
    last gradient: one backward through D on two batches computes it once, for both). So a D forward
    under no_grad, a G step that takes only D's input gradient, the first layer's input (data) that
    needs none, each counts what it really costs. Activations, batch norm and the optimiser are not
    counted (a small share of the work). `lap(part)` files what ran since the previous lap under
    `part`. (Not a hook on the input itself: paddle.grad does not call the hooks of the inputs it
    was asked for.)"""

    def __init__(self, networks):
        self.pending = 0
        self.parts: Dict[str, int] = {}
        self._calls: Dict[int, int] = {}  # layer -> weight-gradient work of its calls so far
        self._handles = []
        for network in networks:
            for layer in network.sublayers(include_self=True):
                if isinstance(layer, counted_layers()):
                    self._handles.append(layer.register_forward_post_hook(self._forward))
                    if not layer.weight.stop_gradient:
                        self._handles.append(layer.weight.register_hook(self._on_weight(layer)))

    def _forward(self, layer, inputs, output) -> None:
        x = inputs[0]
        work = layer_flops(layer, list(x.shape), list(output.shape)) * int(x.shape[0])
        self.pending += work
        if output.stop_gradient:  # no graph: no backward will run
            return
        if not x.stop_gradient:  # once the output's gradient is there, the input's is made
            output.register_hook(lambda grad, work=work: self._add(work))
        if not layer.weight.stop_gradient:
            self._calls[id(layer)] = self._calls.get(id(layer), 0) + work

    def _add(self, work: int) -> None:
        self.pending += work

    def _on_weight(self, layer):
        """The hook of `layer`'s weight: its gradient's work, for every call since the last."""
        key = id(layer)

        def hook(grad):
            self.pending += self._calls.pop(key, 0)

        return hook

    def lap(self, part: str) -> None:
        self.parts[part] = self.parts.get(part, 0) + self.pending
        self.pending = 0

    def start(self) -> None:
        self.parts, self.pending = {}, 0
        self._calls.clear()  # forwards whose backward never ran (a step that skipped it)

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


class PartClock:
    """`lap(part)` for `trainer.run_iteration`: seconds since the previous lap, added to `part`
    (the update's part is named by the network it trained), and the FLOPs executed meanwhile."""

    def __init__(self, counter: Optional[FlopCounter] = None):
        self.parts: Dict[str, float] = {}
        self.counter = counter
        self._last = time.perf_counter()

    def start(self) -> None:
        self.parts = {}
        if self.counter is not None:
            self.counter.start()
        self._last = time.perf_counter()

    def lap(self, part: str) -> None:
        now = time.perf_counter()
        self.parts[part] = self.parts.get(part, 0.0) + now - self._last
        if self.counter is not None:
            self.counter.lap(part)
        self._last = time.perf_counter()  # the counting's own time is nobody's


def _next_pass_if_due(state, plugins, pass_end_s: List[float]) -> None:
    """The trainer's pass boundary, so a long measurement crosses passes as training does."""
    from .trainer import fire

    if state.iteration < state.iters_per_pass:
        return
    start = time.perf_counter()
    fire(plugins, "on_pass_end", state)
    pass_end_s.append(time.perf_counter() - start)
    state.pass_id, state.iteration = state.pass_id + 1, 0
    state.start_pass()
    fire(plugins, "on_pass_start", state)


def time_parts(state, plugins, iters: int, warmup: int, pass_end_s: List[float]) -> List[dict]:
    """`trainer.run_iteration` with a clock on its parts: one dict of seconds per measured
    iteration. It runs on until both a D and a G step were measured (the v1 schedule allows at
    most max_strike picks in a row, so that is soon)."""
    from .roles import DIS, GEN
    from .trainer import run_iteration

    clock = PartClock()
    rows: List[dict] = []
    for i in range(warmup + iters + 4 * getattr(state.scheduler, "max_strike", 5) + 4):
        if i >= warmup + iters and {DIS, GEN} <= {r["decision"] for r in rows}:
            break
        _next_pass_if_due(state, plugins, pass_end_s)
        clock.start()
        run_iteration(state, plugins, clock.lap)
        if i >= warmup:
            decision, parts = state.result.decision, clock.parts
            rows.append({"decision": decision, "data": parts["data"],
                         "forwards": parts["forwards"], "decision_s": parts["decision"],
                         "step": parts[decision], "plugins": parts["plugins"],
                         "sync": parts["sync"]})
    return rows


def count_flops(state, plugins, pass_end_s: List[float]) -> Dict[str, Dict[str, float]]:
    """The FLOPs executed by each part, per network the iteration trains ({"dis": {"forwards":
    ..., "step": ...}, "gen": ...}), counted on iterations of their own (the hooks cost time, so
    none of them is timed), until each network was trained twice."""
    from .roles import DIS, GEN
    from .trainer import run_iteration

    nets = state.nets
    counter = FlopCounter([nets.gen_training, nets.dis_training])
    clock = PartClock(counter)
    seen: Dict[str, List[Dict[str, int]]] = {DIS: [], GEN: []}
    try:
        for _ in range(8 * getattr(state.scheduler, "max_strike", 5) + 8):
            if min(len(v) for v in seen.values()) >= 2:
                break
            _next_pass_if_due(state, plugins, pass_end_s)
            clock.start()
            run_iteration(state, plugins, clock.lap)
            decision = state.result.decision
            seen[decision].append({"forwards": counter.parts.get("forwards", 0),
                                   "step": counter.parts.get(decision, 0)})
    finally:
        counter.close()
    return {network: {part: statistics.fmean(r[part] for r in rows) for part in rows[0]}
            for network, rows in seen.items() if rows}


def profile_ops(state, plugins, iters: int, pass_end_s: List[float], top: int) -> List[dict]:
    """The `top` operators that took the most time over `iters` iterations (Paddle's profiler,
    CPU), per iteration: {"op", "calls", "ms"}; a backward's work is its GradNode's line."""
    import io

    from paddle import profiler

    from .trainer import run_iteration

    prof = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU],
                             on_trace_ready=lambda _: None)  # no trace files
    prof.start()
    for _ in range(iters):
        _next_pass_if_due(state, plugins, pass_end_s)
        run_iteration(state, plugins)
        prof.step()
    with contextlib.redirect_stdout(io.StringIO()):  # its own "Perf Summary" of step times
        prof.stop()
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        prof.summary(sorted_by=profiler.SortedKeys.CPUTotal, op_detail=False, thread_sep=False,
                     time_unit="ms")
    ops: List[Dict[str, Any]] = []
    table = text.getvalue().split("Operator Summary", 1)[-1]
    for line in table.splitlines():  # "name [dygraph]  calls  total / avg / ... / ratio ..."
        fields = line.split()
        at = next((k for k in range(1, len(fields) - 2)
                   if fields[k].isdigit() and fields[k + 2] == "/"), None)
        if at is not None and not line.startswith(" "):
            ops.append({"op": " ".join(fields[:at]).replace(" dygraph", ""),
                        "calls": int(fields[at]) / iters, "ms": float(fields[at + 1]) / iters})
    return sorted(ops, key=lambda o: -o["ms"])[:top]


def time_whole(state, plugins, iters: int, warmup: int, pass_end_s: List[float]) -> List[tuple]:
    """The same function timed whole, without the clock: a cross-check of the parts. (seconds,
    network trained) of each measured iteration."""
    from .trainer import run_iteration

    times = []
    for i in range(warmup + iters):
        _next_pass_if_due(state, plugins, pass_end_s)
        start = time.perf_counter()
        run_iteration(state, plugins)
        if i >= warmup:
            times.append((time.perf_counter() - start, state.result.decision))
    return times


def _median(values) -> float:
    """The median, or 0.0 when there is nothing (a network the schedule never picked)."""
    values = list(values)
    return statistics.median(values) if values else 0.0


def typical_iteration(times: List[tuple], alternating: bool) -> float:
    """The median of (seconds, network trained) pairs; `alternating` (D and G iterations 1:1),
    each network's median weighted by its share: the median of the mix would be a D or a G
    iteration, whichever is in the middle, and the AC-GAN's G iteration costs several D ones."""
    if not alternating:
        return statistics.median(seconds for seconds, _ in times)
    total = 0.0
    for network in {network for _, network in times}:
        mine = [seconds for seconds, other in times if other == network]
        total += statistics.median(mine) * len(mine) / len(times)
    return total


def executed_flops(counted: Dict[str, Dict[str, float]], d_share: float,
                   g_share: float) -> Dict[str, float]:
    """The FLOPs a part executes (`count_flops`), and an iteration's, with the shares of D and G
    iterations of the measurement."""
    dis, gen = counted.get("dis", {}), counted.get("gen", {})
    forwards = d_share * dis.get("forwards", 0.0) + g_share * gen.get("forwards", 0.0)
    return {"forwards": forwards, "d_step": dis.get("step", 0.0),
            "g_step": gen.get("step", 0.0),
            "iteration": forwards + d_share * dis.get("step", 0.0)
            + g_share * gen.get("step", 0.0)}


def summarise(rows: List[dict], flops: Dict[str, int], peak_gflops: float,
              alternating: bool = False,
              counted: Optional[Dict[str, Dict[str, float]]] = None) -> dict:
    """Per part (ms): the compute parts' medians, the overhead parts' means - their costs come
    in bursts a median would hide (a noise chunk every 64 iterations, a reshuffle, a plugin's
    every-N-iterations work). The iteration is the median compute (`typical_iteration`) plus
    the mean overhead; each part's contribution to it and share, FLOPs, GFLOP/s. `flops` are
    nominal (the plain path's work); with `counted` (`count_flops`) the GFLOP/s are of the FLOPs
    really executed."""
    d_rows = [r for r in rows if r["decision"] == "dis"]
    g_rows = [r for r in rows if r["decision"] == "gen"]
    med = {
        "data": statistics.fmean(r["data"] for r in rows),
        "forwards": _median(r["forwards"] for r in rows),
        "decision": statistics.fmean(r["decision_s"] for r in rows),
        "d_step": _median(r["step"] for r in d_rows),
        "g_step": _median(r["step"] for r in g_rows),
        "plugins": statistics.fmean(r["plugins"] for r in rows),
        "sync": statistics.fmean(r["sync"] for r in rows),
    }
    overhead = sum(med[k] for k in OVERHEAD)
    compute = [(r["forwards"] + r["step"], r["decision"]) for r in rows]
    total = typical_iteration(compute, alternating) + overhead
    d_share, g_share = len(d_rows) / len(rows), len(g_rows) / len(rows)
    per_iter = dict(med, d_step=med["d_step"] * d_share, g_step=med["g_step"] * g_share)
    iter_flops = flops["forwards"] + d_share * flops["d_step"] + g_share * flops["g_step"]
    nominal = dict(flops, iteration=iter_flops)
    all_flops = executed_flops(counted, d_share, g_share) if counted else nominal
    seconds = {"forwards": med["forwards"], "d_step": med["d_step"], "g_step": med["g_step"],
               "iteration": total}
    gflops = {k: all_flops[k] / seconds[k] / 1e9 if seconds[k] else 0.0 for k in seconds}
    return {
        "iterations": len(rows),
        "d_steps": len(d_rows),
        "g_steps": len(g_rows),
        "ms": {k: 1000 * v for k, v in med.items()},
        "ms_per_iter": {k: 1000 * v for k, v in per_iter.items()},
        "iteration_ms": 1000 * total,
        "share": {k: v / total for k, v in per_iter.items()},
        "overhead_share": sum(per_iter[k] for k in OVERHEAD) / total,
        "flops": all_flops,
        "flops_counted": "executed" if counted else "nominal",
        "nominal_flops": nominal,
        "gflops": gflops,
        "peak_fraction": {k: v / peak_gflops for k, v in gflops.items()},
    }


def measure_ours(settings, iters: int, warmup: int, check_iters: int, peak_gflops: float,
                 ops: int = 0) -> dict:
    """Build the run as the trainer does and time it; every file goes to a temporary folder."""
    from .checkpoint import Checkpointer
    from .config import load_conf_module
    from .plugins import build_plugins
    from .run import build_state
    from .trainer import fire

    runtime.select_device(settings.use_gpu, settings.gpu_id)
    with tempfile.TemporaryDirectory(prefix="paddle_gan_bench_") as tmp, log_to_file(Path(tmp)):
        state = build_state(settings, Path(tmp))
        plugins = build_plugins(settings.plugins, settings.plugin_options, state.is_writer)
        state.checkpointer = Checkpointer(Path(tmp), plugins)
        conf = load_conf_module(settings.resolved_conf_path())
        per_sample = forward_flops(conf, state.dataset.sample_shape, state.step.loss.logits)
        flops = step_flops(per_sample, settings.batch_size, settings.loss.g_batches)
        alternating = settings.scheduler.name == "alternate"
        if alternating:  # whole D-then-G cycles, so each network's share is the schedule's
            cycle = settings.scheduler.d_steps + settings.scheduler.g_steps
            iters, check_iters = (-(-n // cycle) * cycle for n in (iters, check_iters))
        pass_end_s: List[float] = []
        fire(plugins, "on_train_start", state)
        state.start_pass()
        fire(plugins, "on_pass_start", state)
        counted = count_flops(state, plugins, pass_end_s)
        rows = time_parts(state, plugins, iters, warmup, pass_end_s)
        whole = time_whole(state, plugins, check_iters, warmup, pass_end_s) if check_iters else []
        if not pass_end_s:  # once, so its cost is known even when no pass ended
            start = time.perf_counter()
            fire(plugins, "on_pass_end", state)
            pass_end_s.append(time.perf_counter() - start)
        result = summarise(rows, flops, peak_gflops, alternating, counted)
        if whole:
            result["whole_step_iteration_ms"] = 1000 * typical_iteration(whole, alternating)
        if ops:
            result["ops"] = profile_ops(state, plugins, max(iters, 2), pass_end_s, ops)
        result.update(
            step_class=type(state.step).__name__,
            execution=settings.execution,
            pass_end_ms=1000 * statistics.median(pass_end_s),
            pass_end_ms_per_iter=1000 * statistics.median(pass_end_s) / state.iters_per_pass,
            iters_per_pass=state.iters_per_pass,
            g_batches=settings.loss.g_batches,
            plugins=list(settings.plugins),
            forward_flops_per_sample=per_sample,
            peak_mb=peak_rss_mb(),
        )
        for plugin in plugins:
            plugin.close()
    return result


# --- convolution layers one at a time (--layers) -----------------------------------------------

def conv_inputs(conf, sample_shape, batch: int) -> List[tuple]:
    """(structural name, layer, input shape) of every Conv2D / Conv2DTranspose of a fresh G and D
    from the conf module, in call order: pre-hooks record the shapes during one forward."""
    import paddle
    import paddle.nn as nn

    found, handles = [], []
    gen = conf.build_generator(tuple(sample_shape))
    dis = conf.build_discriminator(tuple(sample_shape), 2)
    for prefix, net in (("gen", gen), ("dis", dis)):
        for name, sub in net.named_sublayers():
            if isinstance(sub, (nn.Conv2D, nn.Conv2DTranspose)):
                def hook(layer, inputs, name=f"{prefix}.{name}"):
                    found.append((name, layer, list(inputs[0].shape)))
                handles.append(sub.register_forward_pre_hook(hook))
    with paddle.no_grad():
        dis(gen(*generator_inputs(conf, paddle.randn([batch, int(conf.NOISE_DIM)]))))
    for handle in handles:
        handle.remove()
    return found


def _median_ms(call, iters: int) -> float:
    for _ in range(LAYERS_WARMUP):
        call()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def time_layer(layer, x, weights, iters: int) -> dict:
    """Median ms of a forward (no graph) and of a forward + backward of (out * weights).sum()."""
    import paddle

    with paddle.no_grad():
        forward = _median_ms(lambda: layer(x), iters)
    return {"fwd": forward,
            "fwd_bwd": _median_ms(lambda: (layer(x) * weights).sum().backward(), iters)}


def measure_layers(batch: int, iters: int) -> List[dict]:
    """Each DCGAN convolution timed as Paddle's layer, then switched to the fast form."""
    import paddle

    from . import fast_conv
    from .config import load_conf_module

    runtime.select_device(False, 0)  # the fast form is for the CPU
    rows = []
    for name, layer, shape in conv_inputs(load_conf_module(resource_path(LAYERS_CONF)),
                                          LAYERS_SAMPLE, batch):
        x = paddle.randn(shape)
        x.stop_gradient = False
        with paddle.no_grad():
            weights = paddle.randn(layer(x).shape)  # the same for both forms
        plain = time_layer(layer, x, weights, iters)
        fast_conv.use_fast_convolutions(layer)
        fast = time_layer(layer, x, weights, iters)
        rows.append({"layer": name, "input_shape": shape,
                     "lowered": fast_conv.is_lowered(layer, shape), "paddle_ms": plain,
                     "fast_ms": fast, "speedup": plain["fwd_bwd"] / fast["fwd_bwd"]})
    return rows


def format_layers(rows: List[dict], total: dict) -> str:
    lines = [f"  {'layer':<13}{'input':<16}{'lowered':<9}{'Paddle fwd':>11}{'fast fwd':>10}"
             f"{'Paddle f+b':>12}{'fast f+b':>10}{'speed-up':>10}"]
    words: Dict[Optional[bool], str] = {True: "yes", False: "no"}  # the total's row: None
    for r in rows + [total]:
        shape = "x".join(map(str, r.get("input_shape", [])))
        lowered = words.get(r.get("lowered"), "")
        lines.append(f"  {r['layer']:<13}{shape:<16}{lowered:<9}{r['paddle_ms']['fwd']:>11.2f}"
                     f"{r['fast_ms']['fwd']:>10.2f}{r['paddle_ms']['fwd_bwd']:>12.2f}"
                     f"{r['fast_ms']['fwd_bwd']:>10.2f}{r['speedup']:>9.2f}x")
    return "\n".join(lines)


def benchmark_layers(args) -> dict:
    iters = min(args.iters or LAYERS_MAX_ITERS, LAYERS_MAX_ITERS)
    report: Dict[str, Any] = {"machine": _machine(), "load_at_start": _load(),
                              "batch_size": LAYERS_BATCH, "iters": iters, "warmup": LAYERS_WARMUP}
    print(f"convolutions of the MNIST DCGAN, batch {LAYERS_BATCH}, median ms of {iters} after "
          f"{LAYERS_WARMUP} warm-up; load average {report['load_at_start']} on "
          f"{report['machine']['cores']} cores ({report['machine']['cpu']})", flush=True)
    rows = measure_layers(LAYERS_BATCH, iters)
    total: Dict[str, Any] = {"layer": "total"}
    for form in ("paddle_ms", "fast_ms"):
        total[form] = {k: sum(r[form][k] for r in rows) for k in ("fwd", "fwd_bwd")}
    total["speedup"] = total["paddle_ms"]["fwd_bwd"] / total["fast_ms"]["fwd_bwd"]
    report.update(layers=rows, layers_total=total, load_after=_load())
    print(format_layers(rows, total), flush=True)
    print(f"  load average after: {report['load_after']} (figures are noisy on a shared machine)",
          flush=True)
    return report


def benchmark_ranks(args) -> dict:
    """--nproc N: the ranks worker (paddle_gan/cli/benchmark_ranks.py) alone with N threads,
    then as N launched processes of one thread each; the same global batch and iterations."""
    sets = list(args.set) + ([f"data_dir={args.data_dir}"] if args.data_dir else [])
    settings = resolve_settings(resource_path(CASES["mnist"]), sets, {}, None)
    missing = _mnist_missing(settings)
    if missing:
        raise ConfigError(missing)
    nproc, iters, warmup = args.nproc, args.iters or 10, 2 if args.warmup is None else args.warmup
    report = {"machine": _machine(), "load_at_start": _load(), "nproc": nproc, "iters": iters,
              "warmup": warmup}
    child = [str(RANKS_WORKER), "--data_dir", str(settings.resolved_data_dir()),
             "--iters", str(iters), "--warmup", str(warmup),
             "--batch_size", str(settings.batch_size)]
    print(f"MNIST DCGAN, global batch {settings.batch_size}, {iters} iterations after {warmup} "
          f"warm-up; load average {report['load_at_start']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="paddle_gan_bench_launch_") as logs:
        runs = {"alone": ([sys.executable, *child], nproc),
                "launched": ([sys.executable, "-m", "paddle.distributed.launch",
                              "--nproc_per_node", str(nproc), "--log_dir", logs, *child], 1)}
        for name, (cmd, threads) in runs.items():
            env = dict(_child_env(plain=False), OMP_NUM_THREADS=str(threads))
            out = run_child(cmd, env, f"the {name} run")
            report[name] = json.loads([line for line in out.splitlines()
                                       if line.startswith("{")][-1])
    report["load_after"] = _load()
    alone, launched = report["alone"], report["launched"]
    report["speedup"] = launched["images_per_s"] / alone["images_per_s"]
    averaging = launched["gradient_averaging_ms"]
    print(f"  1 process x {nproc} threads: {alone['images_per_s']:.0f} images/s "
          f"({alone['ms_per_iter']:.1f} ms/iter)\n"
          f"  {nproc} processes x 1 thread: {launched['images_per_s']:.0f} images/s "
          f"({launched['ms_per_iter']:.1f} ms/iter, of which {launched['comm_ms_per_iter']:.1f} "
          f"in collectives, waiting for the slower rank included) -> {report['speedup']:.2f}x\n"
          f"  D forward + backward + gradient averaging on a rank's {settings.batch_size // nproc} "
          f"images: one coalesced all-reduce {averaging['coalesced']:.1f} ms, "
          f"paddle.DataParallel {averaging['data_parallel']:.1f} ms\n"
          f"  load average after: {report['load_after']} (figures are noisy on a shared machine)",
          flush=True)
    return report


# --- subprocesses -------------------------------------------------------------------------------

def run_child(cmd: List[str], env: dict, what: str) -> str:
    """Run `cmd`; its stdout. A failure is a BenchmarkError."""
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchmarkError(f"{what} failed (exit {result.returncode}): {last}")
    return result.stdout


def _child_env(plain: bool) -> dict:
    env = dict(os.environ)
    if plain:
        for name in TRAINER_ENV:
            env.pop(name, None)
    # the baselines import each other; the short run imports this package, installed or not
    package_home = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_home, str(TOOLS),
                                                      env.get("PYTHONPATH")]))
    return env


def baseline_loop(settings) -> str:
    """How the baselines run it. A run with the `alternate` 1:1 schedule (the TensorFlow MLP
    GANs, the Keras AC-GAN) is timed as such a user writes it: a D update on the real and a fake
    batch, then a G update, no separate loss forwards; the others as v1."""
    return "alternate" if settings.scheduler.name == "alternate" else "v1"


def _baseline_args(settings, iters: int, warmup: int) -> List[str]:
    """The run's settings as the baselines take them."""
    opt, loss = settings.optimizer, settings.loss
    low, high = settings.pixel_range
    return [
        "--data", settings.data, "--data_dir", str(settings.resolved_data_dir()),
        "--data_size", str(settings.data_size), "--batch_size", str(settings.batch_size),
        "--learning_rate", str(opt.learning_rate), "--beta1", str(opt.beta1),
        "--beta2", str(opt.beta2), "--epsilon", str(opt.epsilon), "--seed", str(settings.seed),
        "--iters", str(iters), "--warmup", str(warmup), "--loop", baseline_loop(settings),
        "--loss", loss.name, "--real_label", str(loss.real_label),
        "--aux_weight", str(loss.aux_weight), "--g_batches", str(loss.g_batches),
        "--noise", settings.noise,
        "--pixel_range", str(low), str(high), "--conf", str(settings.resolved_conf_path()),
        "--packing", str(settings.packing), "--r1_gamma", str(loss.r1_gamma),
        "--ema_decay", str(settings.ema.decay),
    ]


def run_baseline(module: str, settings, iters: int, warmup: int, plain: bool,
                 profile: int = 0) -> dict:
    """tools/benchmark_plain.py or _torch.py in a subprocess: its JSON line (ms, peak_mb, ...;
    with `profile` and the alternate loop, PyTorch's top operators)."""
    cmd = [sys.executable, str(TOOLS / f"{module}.py"), *_baseline_args(settings, iters, warmup)]
    if profile and baseline_loop(settings) == "alternate":
        cmd += ["--profile", str(profile)]
    return json.loads(run_child(cmd, _child_env(plain), module).strip().splitlines()[-1])


# The trainer's own entry point, then this process's peak memory on the last line.
SHORT_RUN = ("import sys; from paddle_gan.cli.train import main; code = main(); "
             "from benchmark_plain import own_peak_mb; "
             "print(f'peak_mb {own_peak_mb()}'); sys.exit(code)")


def run_short_training(settings, iters: int, sets: List[str]) -> dict:
    """A whole training run (1 pass of `iters` iterations, its YAML's plugins, the trainer's
    CLI): its peak memory and wall time."""
    with tempfile.TemporaryDirectory(prefix="paddle_gan_bench_run_") as tmp:
        cmd = [sys.executable, "-c", SHORT_RUN, "-d", settings.data,
               "--num_passes", "1", "--iters_per_pass", str(iters), "--output_dir", tmp,
               "--set", f"data_dir={settings.resolved_data_dir()}",
               "--set", f"execution={settings.execution}"]
        for item in sets:
            cmd += ["--set", item]
        start = time.perf_counter()
        stdout = run_child(cmd, _child_env(plain=False), "the short training run")
    peak_mb = float(stdout.strip().splitlines()[-1].split()[-1])
    return {"iterations": iters, "peak_mb": peak_mb, "seconds": time.perf_counter() - start}


# --- the report ---------------------------------------------------------------------------------

def _si(flops: float) -> str:
    for unit, scale in (("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if flops >= scale:
            return f"{flops / scale:.3g} {unit}"
    return f"{flops:.0f} FLOP"


def format_report(name: str, r: dict, peak_gflops: float) -> str:
    lines = [
        f"{name}: execution {r['execution']} ({r['step_class']}), {r['iterations']} iterations "
        f"measured ({r['d_steps']} D steps, {r['g_steps']} G steps), batch {r['batch_size']}",
        # ms columns 11 wide: an AC-GAN G step on a small CPU takes tens of seconds
        f"  {'part':<28}{'ms/call':>11}{'ms/iter':>11}{'share':>8}{'GFLOP/s':>10}{'% peak':>8}",
    ]
    labels = dict(LABELS)
    if r.get("g_batches", 1) > 1:
        labels["g_step"] = f"G step ({r['g_batches']} batches)"
    for part in PARTS:
        gflops = r["gflops"].get(part)
        rate = f"{gflops:>10.2f}{100 * r['peak_fraction'][part]:>7.1f}%" if gflops else ""
        lines.append(f"  {labels[part]:<28}{r['ms'][part]:>11.3f}{r['ms_per_iter'][part]:>11.3f}"
                     f"{100 * r['share'][part]:>7.1f}%{rate}")
    lines.append(f"  {'iteration':<28}{'':>11}{r['iteration_ms']:>11.3f}"
                 f"{100.0:>7.1f}%{r['gflops']['iteration']:>10.2f}"
                 f"{100 * r['peak_fraction']['iteration']:>7.1f}%")
    if "whole_step_iteration_ms" in r:
        lines.append("  cross-check, run_iteration timed whole (no clock on its parts): "
                     f"{r['whole_step_iteration_ms']:.3f} ms/iter")
    lines += [
        f"  overhead (data + decision + plugins + sync): {100 * r['overhead_share']:.1f}% of an "
        "iteration",
        f"  pass-end hooks ({', '.join(r['plugins'])}): {r['pass_end_ms']:.1f} ms once a pass "
        f"= {r['pass_end_ms_per_iter']:.4f} ms/iter over {r['iters_per_pass']} iterations "
        "(not in the iteration)",
        f"  FLOPs/iteration executed {_si(r['flops']['iteration'])} (forwards "
        f"{_si(r['flops']['forwards'])}, D step {_si(r['flops']['d_step'])}, G step "
        f"{_si(r['flops']['g_step'])}; v1's nominal work, as the plain path does it: "
        f"{_si(r['nominal_flops']['iteration'])}); matmul peak {peak_gflops:.1f} GFLOP/s",
        f"  peak memory: this process so far {r['peak_mb']:.0f} MB",
    ]
    if "run" in r:
        run = r["run"]
        lines[-1] += (f"; a whole short run (1 pass x {run['iterations']} iterations, "
                      f"{run['seconds']:.0f} s) {run['peak_mb']:.0f} MB")
    plain = r["plain"]
    parts = {"data": "data", "forwards": "forwards", "d_step": "D step", "g_step": "G step"}
    how = "v1 batch draw"
    if r.get("loop") == "alternate":  # no forwards of its own: its 0 would read as a time
        del parts["forwards"]
        how = "shuffled batches, D and G updates in turn"
    lines.append(
        f"  plain baseline (dygraph, environment as installed, {how}): "
        f"{plain['ms']['iteration']:.2f} ms/iter over {plain['iterations']} iterations ("
        + ", ".join(f"{label} {plain['ms'][k]:.2f}" for k, label in parts.items()
                    if k in plain["ms"])
        + f"; peak {plain['peak_mb']:.0f} MB) -> speed-up {r['speedup']:.1f}x")
    if isinstance(r.get("torch"), dict):
        torch = r["torch"]
        lines.append(f"  PyTorch {torch.get('version', '')}: {torch['ms']['iteration']:.2f} "
                     f"ms/iter -> ours / torch = {r['torch_ratio']:.2f}")
    if r.get("ops"):
        theirs = r.get("torch", {}).get("ops", []) if isinstance(r.get("torch"), dict) else []
        lines.append("  where the time goes, ms per iteration by operator (ours: Paddle's "
                     "profiler, a backward under its GradNode; PyTorch: self time):")
        for i in range(max(len(r["ops"]), len(theirs))):
            mine = r["ops"][i] if i < len(r["ops"]) else None
            other = theirs[i] if i < len(theirs) else None
            left = f"{mine['op'][:34]:<34}{mine['ms']:>8.3f}" if mine else " " * 42
            right = f"   {other['op'][:30]:<30}{other['ms']:>8.3f}" if other else ""
            lines.append(f"    {left}{right}")
    rounds = r.get("rounds", [])
    if len(rounds) > 1:
        lines.append(f"  over {len(rounds)} rounds (ours, plain, torch in turn; the report above "
                     "is the median round's):")
        for key, label in (("ours_ms", "ours ms/iter"), ("plain_ms", "plain ms/iter"),
                           ("torch_ms", "PyTorch ms/iter"), ("speedup", "plain / ours"),
                           ("torch_ratio", "ours / PyTorch")):
            values = sorted(x[key] for x in rounds if key in x)
            if values:
                lines.append(f"    {label:<16} {values[0]:.3g}-{values[-1]:.3g} (median "
                             f"{statistics.median(values):.3g})")
    return "\n".join(lines)


def _machine() -> dict:
    model = "unknown"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                          if line.startswith("model name")), model)
    import paddle

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model,
        "cores": cores,
        "env": {name: os.environ.get(name, "") for name in TRAINER_ENV},
        "paddle": paddle.__version__,
    }


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _mnist_missing(settings) -> Optional[str]:
    from .datasets.mnist import FILES

    folder = settings.resolved_data_dir()
    for name in FILES["train"]:
        if not ((folder / name).is_file() or (folder / f"{name}.gz").is_file()):
            return (f"MNIST data not found in {folder}: run `{MNIST_HINT}` "
                    "(or pass --data_dir DIR)")
    return None


def case_count(args, name: str, flag: str) -> int:
    """--warmup, --plain_iters or --check_iters as given, else the case's default."""
    given = getattr(args, flag)
    return given if given is not None else CASE_COUNTS.get(name, DEFAULT_COUNTS)[flag]


def benchmark(args) -> dict:
    names = list(CASES) if args.data == "all" else [args.data]
    flags = {"execution": args.execution}
    all_settings = {}
    for name in names:  # every setting and data file is checked before anything is timed
        image = name.startswith("mnist")
        sets = CASE_SETS.get(name, []) + list(args.set) + (
            [f"data_dir={args.data_dir}"] if args.data_dir and image else [])
        settings = resolve_settings(resource_path(CASES[name]), sets, flags, None)
        missing = _mnist_missing(settings) if image else None
        if missing:
            raise ConfigError(missing)
        all_settings[name] = settings
    want_torch = args.compare == "torch"
    if want_torch and importlib.util.find_spec("torch") is None:
        print("torch is not installed: --compare torch skipped", flush=True)
        want_torch = False

    iters = {name: args.iters or DEFAULT_ITERS[name] for name in all_settings}
    counts = {flag: {name: case_count(args, name, flag) for name in all_settings}
              for flag in DEFAULT_COUNTS}
    report: Dict[str, Any] = {"machine": _machine(), "load_at_start": _load(), "iters": iters,
                              **counts}
    peak = matmul_peak_gflops()
    report["matmul_peak_gflops"] = peak
    print(f"matmul peak ({MATMUL_N}^3 float32, {report['machine']['env']['OMP_NUM_THREADS'] or '?'}"
          f" threads): {peak:.1f} GFLOP/s; load average {report['load_at_start']} on "
          f"{report['machine']['cores']} cores ({report['machine']['cpu']})", flush=True)
    report["results"] = {}
    rounds = max(1, getattr(args, "rounds", 1) or 1)
    for name, settings in all_settings.items():
        runs = []
        for turn in range(rounds):  # ours, plain, torch in turn: each ratio from one round
            where = f"{name}" + (f" (round {turn + 1} of {rounds})" if rounds > 1 else "")
            print(f"{where}: timing our trainer...", flush=True)
            warmup, plain_iters = counts["warmup"][name], counts["plain_iters"][name]
            top = getattr(args, "ops", 0) or 0
            r = measure_ours(settings, iters[name], warmup, counts["check_iters"][name], peak,
                             top)
            r.update(batch_size=settings.batch_size, loop=baseline_loop(settings))
            if name == "mnist" and args.run_iters > 0 and turn == 0:
                print(f"{name}: a short whole run for its peak memory...", flush=True)
                r["run"] = run_short_training(settings, args.run_iters, sets)
            print(f"{where}: the plain baseline...", flush=True)
            r["plain"] = run_baseline("benchmark_plain", settings, plain_iters, warmup,
                                      plain=True)
            r["speedup"] = r["plain"]["ms"]["iteration"] / r["iteration_ms"]
            if want_torch:
                print(f"{where}: PyTorch...", flush=True)
                r["torch"] = run_baseline("benchmark_torch", settings, plain_iters, warmup,
                                          plain=False, profile=top)
                r["torch_ratio"] = r["iteration_ms"] / r["torch"]["ms"]["iteration"]
            r["load_after"] = _load()
            runs.append(r)
        r = sorted(runs, key=lambda run: run["iteration_ms"])[len(runs) // 2]  # the median
        if "run" in runs[0]:
            r["run"] = runs[0]["run"]
        r["rounds"] = [{"ours_ms": x["iteration_ms"], "plain_ms": x["plain"]["ms"]["iteration"],
                        "speedup": x["speedup"],
                        **({"torch_ms": x["torch"]["ms"]["iteration"],
                            "torch_ratio": x["torch_ratio"]} if "torch" in x else {})}
                       for x in runs]
        report["results"][name] = r
        print(format_report(name, r, peak), flush=True)
        print(f"  load average after: {r['load_after']} (figures are noisy on a shared machine)",
              flush=True)
    return report
