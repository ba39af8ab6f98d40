"""`python tools/evaluate.py ...` is `paddle-gan evaluate ...` (paddle_gan/cli/evaluate.py);
`--help` lists its flags."""
import sys

from paddle_gan.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main(prog="evaluate.py"))
