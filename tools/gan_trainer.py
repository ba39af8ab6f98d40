"""`python tools/gan_trainer.py -d uniform|mnist|cifar [--use_gpu 0|1] ...` is `paddle-gan train
...` (paddle_gan/cli/train.py); `--help` lists the flags."""
import sys

from paddle_gan import runtime

runtime.stop_at_once_on_signals()  # a Ctrl-C while the libraries load: one line, exit 130

from paddle_gan.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="gan_trainer.py"))
