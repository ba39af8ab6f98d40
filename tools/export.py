"""`python tools/export.py ...` is `paddle-gan export ...` (paddle_gan/cli/export.py);
`--help` lists its flags."""
import sys

from paddle_gan.cli.export import main

if __name__ == "__main__":
    sys.exit(main(prog="export.py"))
