"""`paddle-gan sweep [SWEEP.yaml] [--grid KEY=V1,V2 ...] [--set KEY=VALUE ...] [--output_dir DIR]
[--jobs N] [--metrics A,B]` (and `python tools/sweep.py`): a grid of runs, summarised. What a
sweep file holds and does is `paddle_gan.sweep`'s business.

Exit codes: 0 every cell finished; 1 a cell failed (its line says why, its `sweep.log` has the
rest); 2 bad input (an unknown key, setting, value or metric, another sweep's folder), one line;
130 / 143 stopped by SIGINT / SIGTERM (the cells running save a checkpoint).
"""
from __future__ import annotations

import argparse
import os

from .. import runtime
from ..errors import UsageError
from . import guarded


def build_parser(prog: str = "paddle-gan sweep"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train every combination of a grid of settings (a process per cell, --jobs "
        "at once), skip cells already finished, and summarise them in results.md (mean and "
        "spread over seeds) and samples.png (the final samples of each setting).",
        epilog="Exit codes: 0 every cell finished, 1 a cell failed, 2 bad input, 130/143 "
        "stopped (run the same command again to continue).",
    )
    add = parser.add_argument
    add("sweep", nargs="?", metavar="SWEEP.yaml",
        help="sweep file: grid (setting -> values), set (shared settings), metrics, output_dir")
    add("--grid", action="append", default=[], metavar="KEY=V1,V2",
        help="a grid axis (any dotted setting, or data); replaces the file's axis of that name")
    add("--set", action="append", default=[], metavar="KEY=VALUE",
        help="a setting every cell shares, as the trainer's --set")
    add("--output_dir", metavar="DIR",
        help="the sweep folder (default: the file's output_dir, else output/sweeps/<file name>, "
        "else output/sweeps/sweep)")
    add("--jobs", type=int, default=1, metavar="N",
        help="cells trained at once (default 1); each gets OMP_NUM_THREADS = cores / N unless "
        "you set it")
    add("--metrics", metavar="A,B",
        help="the table's metric columns (default: the file's, else every headline metric of "
        "the cells' data)")
    add("--dry_run", action="store_true", help="list the cells and their state, train nothing")
    return parser


def main(argv=None, prog: str = "paddle-gan sweep") -> int:
    child_env = dict(os.environ)  # before the CPU set-up: a user's OMP_NUM_THREADS is kept
    runtime.configure_cpu_environment()
    args = build_parser(prog).parse_args(argv)
    return guarded(lambda: sweep(args, child_env))


def sweep(args, child_env: dict) -> int:
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    runtime.import_paddle()  # the conf modules the cells' settings name import it
    from ..config import builtin_fallback
    from ..sweep import read_spec, run_sweep

    if "OMP_NUM_THREADS" not in child_env:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        child_env["OMP_NUM_THREADS"] = str(max(1, cores // args.jobs))
    sweep_file = args.sweep and str(builtin_fallback(args.sweep))  # conf/sweeps/toy.yaml
    spec = read_spec(sweep_file, args.grid, args.set, args.metrics, args.output_dir)
    return run_sweep(spec, args.jobs, child_env, args.dry_run)
