"""Train the pinned MNIST feature extractor (paddle_gan.metrics.classifier.LeNet) and save it.

This tool owns the extractor's training recipe: seeded init and shuffles, Adam with a cosine
learning-rate decay for a few epochs on MNIST train, test accuracy printed after every epoch.
The weights go to an .npz with a JSON sidecar holding their SHA-256, the identity the image
metrics record and check; an extractor below `--min_accuracy` on MNIST test is not saved.
Exit codes: 0 saved; 1 accuracy too low; 2 bad data directory.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
from paddle_gan import runtime  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Exit codes: 0 saved, 1 test accuracy below --min_accuracy (nothing saved), 2 "
        "bad data directory or output.")
    add = p.add_argument
    add("--data_dir", default="data/mnist_data", metavar="DIR",
        help="MNIST IDX files, plain or .gz (default data/mnist_data)")
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
    from paddle_gan.metrics.classifier import extract

    _, probs = extract(model, dataset.samples)
    return float(np.mean(probs.argmax(axis=1) == dataset.labels))


def main(argv=None) -> int:
    runtime.configure_cpu_environment()
    args = build_parser().parse_args(argv)
    paddle = runtime.import_paddle()
    import paddle.nn.functional as F

    from paddle_gan.datasets.mnist import load_mnist
    from paddle_gan.errors import DataError, UsageError
    from paddle_gan.metrics.classifier import LeNet, save_classifier

    try:
        train, test = load_mnist(args.data_dir, "train"), load_mnist(args.data_dir, "test")
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paddle.set_device("cpu")  # a small net; the GPU would not pay for its start-up
    paddle.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = LeNet()
    steps_per_epoch = len(train) // args.batch_size
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, args.epochs * steps_per_epoch)
    optimizer = paddle.optimizer.Adam(schedule, parameters=model.parameters())

    start = time.time()
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
        print(f"error: test accuracy {test_acc:.4f} is below --min_accuracy "
              f"{args.min_accuracy}; not saved", file=sys.stderr)
        return 1
    try:
        sha = save_classifier(model, args.output, extra={
            "test_accuracy": test_acc, "seed": args.seed, "epochs": args.epochs,
            "batch_size": args.batch_size, "lr": args.lr, "train_seconds": round(seconds, 1),
            "channels": list(model.channels), "hidden": model.hidden,
            "paddle": paddle.__version__,
        })
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"test accuracy {test_acc:.4f} in {seconds:.0f} s; saved {args.output} sha256 {sha}")
    return 0


if __name__ == "__main__":
    runtime.stop_at_once_on_signals()
    sys.exit(main())
