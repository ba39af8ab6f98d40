"""`paddle-gan benchmark [--data uniform|mnist|...|all] [--iters N] ...` (and `python
tools/benchmark.py`): where an iteration's time goes, against plain Paddle and PyTorch. What is
measured and how is `paddle_gan.benchmark`'s business.

Exit codes: 0 done; 1 a baseline or the short run failed; 2 bad usage, config or missing data;
3 training diverged.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import List, Optional

from .. import runtime
from ..benchmark import CASES, LAYERS_BATCH, LAYERS_MAX_ITERS, LAYERS_WARMUP
from ..errors import UsageError
from . import EXIT_OK, Failed, guarded


def build_parser(prog: str = "paddle-gan benchmark") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Time a training iteration of the v1 GANs (uniform, mnist; batch 128) part "
        "by part, count its FLOPs, and compare with plain Paddle dygraph.",
        epilog="Exit codes: 0 done, 1 a baseline or short run failed, 2 bad usage/config/data, "
        "3 diverged. The machine's load average is printed with the figures.",
    )
    add = parser.add_argument
    add("--data", choices=(*CASES, "all"), default="all",
        help="which run config to time: uniform and mnist (v1's), mnist_mlp and mnist_leaky "
        "(the TensorFlow MLP GANs), mnist_acgan (the Keras AC-GAN, conf/mnist_acgan.yaml), ring "
        "(the mode benchmark's default run); default all")
    add("--layers", action="store_true",
        help=f"instead: time each convolution of the MNIST DCGAN (batch {LAYERS_BATCH}), Paddle's "
        f"against the fast form; {LAYERS_WARMUP} warm-up, --iters (at most {LAYERS_MAX_ITERS}) "
        "measured")
    add("--iters", type=int, metavar="N",
        help="measured iterations (default: 1000 for uniform, whose overhead comes in bursts, "
        "30 for mnist, 300 for the MLP GANs and ring, 6 for mnist_acgan)")
    add("--warmup", type=int, metavar="N",
        help="iterations not measured (default 5; 2 for mnist_acgan)")
    add("--plain_iters", type=int, metavar="N",
        help="measured iterations of the plain baseline and of torch (default 20; 6 for "
        "mnist_acgan)")
    add("--check_iters", type=int, metavar="N",
        help="iterations of the cross-check, run_iteration timed whole (default 10; 4 for "
        "mnist_acgan; 0 skips it)")
    add("--run_iters", type=int, default=20, metavar="N",
        help="iterations of the short whole MNIST run whose peak memory is reported; 0 skips it")
    add("--execution", choices=("fast", "plain"), help="our execution path (default: settings)")
    add("--compare", choices=("torch",), help="also time a PyTorch version, if torch imports")
    add("--nproc", type=int, metavar="N",
        help="instead: MNIST images/s of 1 process x N threads against N processes x 1 thread "
        "under paddle.distributed.launch (conf/mnist.yaml's global batch, 128, in all), the "
        "time in collectives per iteration, and D's gradients averaged by one coalesced "
        "all-reduce against paddle.DataParallel; --iters (default 10) measured after "
        "--warmup (default 2)")
    add("--ops", type=int, default=0, metavar="K",
        help="also the K operators that take the most time, ours (Paddle's profiler) beside "
        "PyTorch's (with --compare torch, for the alternate-schedule cases)")
    add("--rounds", type=int, default=1, metavar="N",
        help="time ours, the plain baseline and PyTorch in turn N times and print the spread of "
        "each ratio (each ratio from one round; default 1)")
    add("--json", metavar="PATH", help="write every figure to PATH as JSON")
    add("--data_dir", metavar="DIR", help="MNIST files (default data/mnist_data)")
    add("--set", action="append", default=[], metavar="KEY=VALUE", help="any setting")
    return parser



def main(argv: Optional[List[str]] = None, prog: str = "paddle-gan benchmark") -> int:
    runtime.configure_cpu_environment()  # before paddle is imported: measure what the trainer does
    args = build_parser(prog).parse_args(argv)
    return guarded(lambda: benchmark_command(args))


def benchmark_command(args) -> int:
    if args.nproc is not None and args.nproc < 2:
        raise UsageError("--nproc must be at least 2")
    for flag in ("iters", "plain_iters", "rounds"):
        if (getattr(args, flag) or 1) < 1:
            raise UsageError(f"--{flag} must be at least 1")
    if min(args.warmup or 0, args.run_iters, args.check_iters or 0) < 0:
        raise UsageError("--warmup, --check_iters and --run_iters must be at least 0")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise UsageError(f"--json {args.json}: its folder does not exist")
    runtime.import_paddle()
    from ..benchmark import BenchmarkError, benchmark, benchmark_layers, benchmark_ranks

    try:
        if args.nproc:
            report = benchmark_ranks(args)
        else:
            report = benchmark_layers(args) if args.layers else benchmark(args)
    except BenchmarkError as err:
        raise Failed(str(err)) from None
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return EXIT_OK
