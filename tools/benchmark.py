"""`python tools/benchmark.py ...` is `paddle-gan benchmark ...` (paddle_gan/cli/benchmark.py);
`--help` lists its flags."""
import sys

from paddle_gan.cli.benchmark import main

if __name__ == "__main__":
    sys.exit(main(prog="benchmark.py"))
