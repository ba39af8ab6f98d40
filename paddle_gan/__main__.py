"""`python -m paddle_gan ...`: the `paddle-gan` command."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
