"""`python tools/gan_trainer.py -d uniform|mnist|cifar [--use_gpu 0|1] ...` is `paddle-gan train
...` (paddle_gan/cli/train.py); `--help` lists the flags."""
import sys

from paddle_gan import signals

signals.stop_at_once()  # a Ctrl-C while the libraries load: one line, exit 130

from paddle_gan.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="gan_trainer.py"))
