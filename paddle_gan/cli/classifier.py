"""`paddle-gan train-classifier` (and `python tools/train_classifier.py`): train the pinned MNIST
feature extractor (paddle_gan.metrics.classifier.LeNet) and save it.

This command owns the extractor's training recipe: seeded init and shuffles, Adam with a cosine
learning-rate decay for a few epochs on MNIST train, test accuracy printed after every epoch.
The weights go to an .npz with a JSON sidecar holding their SHA-256, the identity the image
metrics record and check; an extractor below `--min_accuracy` on MNIST test is not saved.
Exit codes: 0 saved; 1 accuracy too low; 2 bad data directory.
"""
import argparse
import time

import numpy as np

from .. import runtime
from ..config import DATA_HOME
from . import Failed, guarded


def build_parser(prog: str = "paddle-gan train-classifier"):
    p = argparse.ArgumentParser(
        prog=prog,
        description="Train the MNIST feature extractor of the image metrics and save it.",
        epilog="Exit codes: 0 saved, 1 test accuracy below --min_accuracy (nothing saved), 2 "
        "bad data directory or output.")
    add = p.add_argument
    add("--data_dir", default=str(DATA_HOME / "mnist_data"), metavar="DIR",
        help="MNIST IDX files, plain or .gz (default: the trainer's, data/mnist_data)")
    add("--output", default="output/classifier/lenet.npz", metavar="NPZ",
        help="where the weights go, with their .json sidecar (default "
        "output/classifier/lenet.npz)")
    add("--epochs", type=int, default=3, metavar="N", help="passes over MNIST train (default 3)")
    add("--batch_size", type=int, default=128, metavar="N", help="default 128")
    add("--lr", type=float, default=2e-3, metavar="LR",
        help="Adam's starting learning rate, cosine-decayed to 0 (default 2e-3)")
    add("--seed", type=int, default=0, metavar="S", help="init and shuffles (default 0)")
    add("--min_accuracy", type=float, default=0.985, metavar="A",
        help="refuse to save below this MNIST test accuracy (default 0.985)")
    return p


def accuracy(model, dataset) -> float:
    from ..metrics.classifier import extract

    _, probs = extract(model, dataset.samples)
    return float(np.mean(probs.argmax(axis=1) == dataset.labels))


def main(argv=None, prog: str = "paddle-gan train-classifier") -> int:
    runtime.configure_cpu_environment()
    args = build_parser(prog).parse_args(argv)
    return guarded(lambda: train_extractor(args))


def train_extractor(args) -> int:
    paddle = runtime.import_paddle()
    import paddle.nn.functional as F

    from ..datasets.mnist import load_mnist
    from ..metrics.classifier import LeNet, save_classifier

    train, test = load_mnist(args.data_dir, "train"), load_mnist(args.data_dir, "test")
    paddle.set_device("cpu")  # a small net; the GPU would not pay for its start-up
    paddle.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = LeNet()
    steps_per_epoch = len(train) // args.batch_size
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, args.epochs * steps_per_epoch)
    optimizer = paddle.optimizer.Adam(schedule, parameters=model.parameters())

    start = time.time()
    assert train.labels is not None  # MNIST is labelled
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(train))
        for step in range(steps_per_epoch):
            idx = order[step * args.batch_size : (step + 1) * args.batch_size]
            x, y = paddle.to_tensor(train.samples[idx]), paddle.to_tensor(train.labels[idx])
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            schedule.step()
        test_acc = accuracy(model, test)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {float(loss):.4f} "
              f"test accuracy {test_acc:.4f} ({time.time() - start:.0f} s)", flush=True)

    seconds = time.time() - start
    if test_acc < args.min_accuracy:
        raise Failed(f"test accuracy {test_acc:.4f} is below --min_accuracy "
                     f"{args.min_accuracy}; not saved")
    sha = save_classifier(model, args.output, extra={
        "test_accuracy": test_acc, "seed": args.seed, "epochs": args.epochs,
        "batch_size": args.batch_size, "lr": args.lr, "train_seconds": round(seconds, 1),
        "channels": list(model.channels), "hidden": model.hidden,
        "paddle": paddle.__version__,
    })
    print(f"test accuracy {test_acc:.4f} in {seconds:.0f} s; saved {args.output} sha256 {sha}")
    return 0
