"""One side of `paddle-gan benchmark --nproc N`: MNIST training throughput, alone or as one rank
of `python -m paddle.distributed.launch --nproc_per_node N paddle_gan/cli/benchmark_ranks.py ...`
(a program run by its path, so its imports are absolute).

Every rank builds the run as the trainer does (`run.build_state`, no plugins, no files) and runs
the trainer's own iteration (`trainer.run_iteration`); the time inside the collectives (the
losses' and the gradients' all-reduces, waiting for the slower rank included) is summed. Then,
as the issue asks us to choose between them, D's gradients are averaged both ways on the same
batches: one coalesced all-reduce after backward (`Ranks.average_gradients`, what the trainer
does) and `paddle.DataParallel` (its reducer all-reduces buckets during backward). Rank 0 prints
one JSON line. Run by paddle_gan.benchmark; not a user command.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from paddle_gan import runtime  # sets threads before Paddle is imported

runtime.configure_cpu_environment()


def timed_collectives(ranks) -> list:
    """Wrap `ranks._all_reduce` to add each call's seconds to the returned list."""
    spent = []
    inner = ranks._all_reduce

    def all_reduce(tensor):
        start = time.perf_counter()
        try:
            return inner(tensor)
        finally:
            spent.append(time.perf_counter() - start)

    ranks._all_reduce = all_reduce
    return spent


def train_throughput(settings, ranks, iters: int, warmup: int) -> dict:
    from paddle_gan.run import build_state
    from paddle_gan.trainer import run_iteration

    with tempfile.TemporaryDirectory(prefix="paddle_gan_bench_ranks_") as tmp:
        state = build_state(settings, Path(tmp), ranks)
        spent = timed_collectives(ranks)
        state.start_pass()
        for _ in range(warmup):
            run_iteration(state, [])
        spent.clear()
        start = time.perf_counter()
        for _ in range(iters):
            run_iteration(state, [])
        seconds = time.perf_counter() - start
    return {"iterations": iters, "seconds": seconds, "global_batch": settings.batch_size,
            "ms_per_iter": 1000 * seconds / iters, "comm_ms_per_iter": 1000 * sum(spent) / iters}


def gradient_averaging(settings, ranks, repeats: int) -> dict:
    """ms per forward + backward + gradient averaging of D on this rank's shard: the trainer's
    coalesced all-reduce against paddle.DataParallel."""
    import paddle

    from paddle_gan.config import load_conf_module

    conf = load_conf_module(settings.resolved_conf_path())
    paddle.seed(settings.seed)
    dis = conf.build_discriminator((1, 28, 28))
    shard = settings.batch_size // ranks.world
    images = paddle.randn([shard, 1, 28, 28])
    wrapped = paddle.DataParallel(dis)

    def coalesced():
        dis(images).mean().backward()
        ranks.average_gradients(dis.parameters())

    def data_parallel():
        wrapped(images).mean().backward()

    times = {}
    for name, step in (("coalesced", coalesced), ("data_parallel", data_parallel)):
        runs = []
        for i in range(repeats + 2):
            dis.clear_gradients()
            start = time.perf_counter()
            step()
            if i >= 2:
                runs.append(time.perf_counter() - start)
        times[name] = 1000 * statistics.median(runs)
    return times


def main() -> int:
    from paddle_gan import distributed
    from paddle_gan.config import resolve_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=128, help="the global batch")
    args = parser.parse_args()
    settings = resolve_settings(None, [f"data_dir={args.data_dir}", "batch_split=global",
                                       "plugins=[]"], {"batch_size": args.batch_size}, "mnist")
    ranks = distributed.start(*distributed.launched_world())
    runtime.select_device(False, 0, launched=not ranks.alone)
    result = train_throughput(settings, ranks, args.iters, args.warmup)
    result["world"] = ranks.world
    result["images_per_s"] = args.batch_size * args.iters / result["seconds"]
    if not ranks.alone:
        result["gradient_averaging_ms"] = gradient_averaging(settings, ranks, repeats=5)
    if ranks.rank == 0:
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
