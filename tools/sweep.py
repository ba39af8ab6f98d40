"""`python tools/sweep.py ...` is `paddle-gan sweep ...` (paddle_gan/cli/sweep.py);
`--help` lists its flags."""
import sys

from paddle_gan.cli.sweep import main

if __name__ == "__main__":
    sys.exit(main(prog="sweep.py"))
