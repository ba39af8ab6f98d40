"""Train a GAN: `python tools/gan_trainer.py -d uniform|mnist|cifar [--use_gpu 0|1] ...`.

Thin on purpose: everything lives in paddle_gan.cli. `--help` lists the flags.
"""
import sys
from pathlib import Path

# Runs from a checkout whether or not the package is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paddle_gan import runtime  # noqa: E402

runtime.stop_at_once_on_signals()  # a Ctrl-C while the libraries load: one line, exit 130

from paddle_gan.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
