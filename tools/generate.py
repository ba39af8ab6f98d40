"""`python tools/generate.py ...` is `paddle-gan generate ...` (paddle_gan/cli/generate.py);
`--help` lists its flags."""
import sys

from paddle_gan.cli.generate import main

if __name__ == "__main__":
    sys.exit(main(prog="generate.py"))
