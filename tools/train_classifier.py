"""`python tools/train_classifier.py ...` is `paddle-gan train-classifier ...`
(paddle_gan/cli/classifier.py); `--help` lists its flags."""
import sys

from paddle_gan.cli.classifier import main

if __name__ == "__main__":
    sys.exit(main(prog="train_classifier.py"))
