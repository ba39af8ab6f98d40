"""Benchmark training: `python tools/benchmark.py [--data uniform|mnist|all] [--iters N] ...`.

Thin on purpose: everything lives in paddle_gan.benchmark. `--help` lists the flags.
"""
import sys
from pathlib import Path

# Runs from a checkout whether or not the package is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paddle_gan.benchmark import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
