"""The plain baseline of tools/benchmark.py: the GAN written the way a Paddle user would write
it without this project, timed per iteration.

Self-contained on purpose (it imports no trainer code). `--loop v1` (v1's GANs): plain
dygraph, the three networks built from the same conf module, separate Adam optimisers, v1's
batch drawing (`numpy.random.choice(N, B, replace=False)` over the whole data set every
iteration), v1's four forward passes (the generator's fake batch, D on real and on fake,
generator_training) with `.eval()`/`.train()` toggles, the v1 loss-based schedule, and sync by
`set_state_dict`. The benchmark runs it as `python tools/benchmark_plain.py ...` in a
subprocess whose environment is as installed (no thread or MKL settings); it prints one JSON
line: the median iteration and the median of each part, in milliseconds, and its peak memory.

`--loop alternate` (the TensorFlow MLP GANs, the Keras AC-GAN and the mode benchmarks' MLP GAN: one
logit, the `alternate` 1:1 schedule): an iteration is a D update on a real batch (a slice of a
shuffle per pass, as TensorFlow's `next_batch` gives them) and a fake one with the run's loss, or a
G update on `--g_batches` batches of noise, alternating, as their TensorFlow and Keras code runs
them; the loss values come from those updates, no other forwards. A conditional conf (NUM_CLASSES,
the AC-GAN) gets the real batch's labels and uniformly drawn fake classes, and `--aux_weight` times
the class cross-entropy is added on both batches for D and on G's batches for G. Its iteration
figure is the median D iteration and the median G iteration weighted by how often each ran (as many
times each: an odd --iters is rounded up): the two differ (the AC-GAN's G update is about six times
its D update), so a median of the mix would be one of them. For the ring and grid (`--data
ring|grid`, PacGAN's layouts drawn here) it does what their run config adds: `--packing m` (D
judges m points at once: a reshape), `--r1_gamma` (R1 on D's real batch: a double backward) and
`--ema_decay` (after each G update, an average of G kept in a copy of it)."""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

MAX_STRIKE = 5


def own_peak_mb() -> float:
    """This process's peak resident memory in MB. Linux's VmHWM counts from this process's exec;
    ru_maxrss of a child there starts at its parent's peak, so it is only the fallback."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_conf(path):
    spec = importlib.util.spec_from_file_location("plain_conf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_mnist_images(data_dir, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """The 60000 training images as float32 [N, 1, 28, 28] in [low, high] (IDX, raw or .gz)."""
    path = Path(data_dir) / "train-images-idx3-ubyte"
    raw = path.read_bytes() if path.is_file() else gzip.open(f"{path}.gz").read()
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return images.astype("float32") * np.float32((high - low) / 255) + np.float32(low)


def load_mnist_labels(data_dir) -> np.ndarray:
    """The 60000 training labels as int64 [N] (IDX, raw or .gz)."""
    path = Path(data_dir) / "train-labels-idx1-ubyte"
    raw = path.read_bytes() if path.is_file() else gzip.open(f"{path}.gz").read()
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype("int64")


def mixture_points(data: str, size: int, seed: int) -> np.ndarray:
    """PacGAN's 2-D mixtures, float32 [size, 2]: 8 Gaussians on a unit circle (sigma 0.01), or
    25 on {-4,-2,0,2,4}^2 (sigma 0.05)."""
    rng = np.random.default_rng(seed)
    if data == "ring":
        angles = 2 * np.pi * np.arange(8) / 8
        means, sigma = np.stack([np.cos(angles), np.sin(angles)], 1), 0.01
    else:
        axis = np.arange(-4.0, 5.0, 2.0)
        means, sigma = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2), 0.05
    picks = rng.integers(0, len(means), size)
    return (means[picks] + rng.normal(0, sigma, (size, 2))).astype("float32")


def noise_batch(rng: np.random.Generator, shape, distribution: str) -> np.ndarray:
    if distribution == "uniform":
        return rng.uniform(-1, 1, shape).astype("float32")
    return rng.standard_normal(shape).astype("float32")


def v1_pick(current: str, strike: int, d_loss: float, g_loss: float):
    """v1's scheduler written out, as a user would: (network to train, its new strike)."""
    d_exhausted = current == "dis" and strike == MAX_STRIKE
    g_exhausted = current == "gen" and strike == MAX_STRIKE
    pick = "dis" if not d_exhausted and (g_exhausted or d_loss > g_loss) else "gen"
    return pick, strike + 1 if pick == current else 1


class PartTimes:
    """Seconds per part of each measured iteration, and the loop's stopping rule. `alternating`:
    the loop alternates D and G iterations (see `iteration_ms`), measured in pairs (an odd
    count rounded up) so that both have the same share."""

    def __init__(self, iters: int, warmup: int, alternating: bool = False):
        self.iters = iters + iters % 2 if alternating else iters
        self.warmup, self.alternating = warmup, alternating
        self.parts = {k: [] for k in ("data", "forwards", "d_step", "g_step", "sync", "iteration")}
        self.picks = []  # the network each measured iteration trained

    def loop(self):
        """Iteration numbers: past the ones asked for, only until both a D and a G step were
        measured (v1 allows at most MAX_STRIKE picks of one network in a row)."""
        for i in range(self.warmup + self.iters + 4 * MAX_STRIKE + 4):
            if i >= self.warmup + self.iters and self.parts["d_step"] and self.parts["g_step"]:
                return
            yield i

    def record(self, i: int, pick: str, t0, t1, t2, t3, t4) -> None:
        """t0..t4: start, data drawn, forwards done, step done, sync done."""
        if i >= self.warmup:
            self.parts["data"].append(t1 - t0)
            self.parts["forwards"].append(t2 - t1)
            self.parts["d_step" if pick == "dis" else "g_step"].append(t3 - t2)
            self.parts["sync"].append(t4 - t3)
            self.parts["iteration"].append(t4 - t0)
            self.picks.append(pick)

    def iteration_ms(self) -> float:
        """The median iteration; alternating, each network's median iteration weighted by its
        share, since a median of the mix is a D or a G iteration, whichever is in the middle."""
        times = self.parts["iteration"]
        if not self.alternating:
            return 1000 * statistics.median(times)
        total = 0.0
        for pick in set(self.picks):
            mine = [t for t, p in zip(times, self.picks) if p == pick]
            total += statistics.median(mine) * len(mine) / len(times)
        return 1000 * total

    def print_json(self, **extra) -> None:
        """The one JSON line the benchmark reads: median milliseconds per part and counts."""
        parts = self.parts
        medians = {name: 1000 * statistics.median(times) for name, times in parts.items() if times}
        medians["iteration"] = self.iteration_ms()
        print(json.dumps({"ms": medians, "iterations": len(parts["iteration"]),
                          "d_steps": len(parts["d_step"]), "g_steps": len(parts["g_step"]),
                          "peak_mb": own_peak_mb(), **extra}))


def common_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every baseline takes (tools/benchmark.py passes them)."""
    parser = argparse.ArgumentParser(description=description)
    add = parser.add_argument
    add("--data", choices=("uniform", "mnist", "ring", "grid"), required=True)
    add("--conf", required=True, help="conf module path (conf/gan_conf.py, mlp_gan.py, ...)")
    add("--loop", choices=("v1", "alternate"), default="v1")
    add("--loss", default="v1", help="alternate loop: non_saturating or minimax")
    add("--real_label", type=float, default=1.0)
    add("--aux_weight", type=float, default=1.0, help="a conditional conf's class loss weight")
    add("--g_batches", type=int, default=1, help="alternate loop: G's update on this many batches")
    add("--noise", choices=("normal", "uniform"), default="normal")
    add("--pixel_range", type=float, nargs=2, default=(-1.0, 1.0))
    add("--epsilon", type=float, default=1e-8)
    add("--data_dir", default="")
    add("--data_size", type=int, default=1_000_000)
    add("--batch_size", type=int, default=128)
    add("--learning_rate", type=float, default=1e-4)
    add("--beta1", type=float, default=0.5)
    add("--beta2", type=float, default=0.999)
    add("--seed", type=int, default=1)
    add("--iters", type=int, default=20)
    add("--warmup", type=int, default=2)
    add("--packing", type=int, default=1, help="alternate loop: points D judges at once")
    add("--r1_gamma", type=float, default=0.0, help="alternate loop: R1 on D's real batch")
    add("--ema_decay", type=float, default=0.0, help="alternate loop: an average of G")
    add("--profile", type=int, default=0, metavar="K",
        help="alternate loop, PyTorch: also the K operators that took the most time")
    return parser


def build_parser():
    return common_parser("Plain-dygraph GAN iterations, timed.")


def alternate_loop(args, data: np.ndarray, conf) -> PartTimes:
    """The TensorFlow MLP GANs' and the Keras AC-GAN's loop in plain dygraph (see the module
    docstring)."""
    import paddle
    import paddle.nn.functional as F

    shape, batch, rng = data.shape[1:], args.batch_size, np.random.default_rng(args.seed)
    classes = int(getattr(conf, "NUM_CLASSES", 0))
    labels = load_mnist_labels(args.data_dir) if classes else None
    m = args.packing
    gen = conf.build_generator(shape)
    dis_net = conf.build_discriminator((shape[0] * m, *shape[1:]), 1)
    average = conf.build_generator(shape) if args.ema_decay else None
    if average is not None:
        average.set_state_dict(gen.state_dict())

    def dis(images):  # m points of a batch side by side: one verdict a pack
        return dis_net(images.reshape([-1, m * images.shape[1], *images.shape[2:]]))

    def adam(params):
        return paddle.optimizer.Adam(learning_rate=args.learning_rate, beta1=args.beta1,
                                     beta2=args.beta2, epsilon=args.epsilon, parameters=params)

    def judge(images, target, classes_of, minimax=False):
        """D's loss on a batch: the logistic term against `target`, plus the class term."""
        out = dis(images)
        adv = out[0] if classes else out
        loss = F.binary_cross_entropy_with_logits(adv, target)
        loss = -loss if minimax else loss
        if classes:
            loss = loss + args.aux_weight * F.cross_entropy(out[1], classes_of.reshape([-1, 1]))
        return loss

    opt_d, opt_g = adam(dis_net.parameters()), adam(gen.parameters())
    g_batch = args.g_batches * batch
    real_target = paddle.full([batch // m, 1], args.real_label)
    zeros, ones = paddle.zeros([batch // m, 1]), paddle.ones([g_batch // m, 1])
    g_zeros = paddle.zeros([g_batch // m, 1])
    order, position = rng.permutation(len(data)), 0
    times = PartTimes(args.iters, args.warmup, alternating=True)
    for i in times.loop():
        pick = "dis" if i % 2 == 0 else "gen"
        t0 = time.perf_counter()
        if position + batch > len(data):
            order, position = rng.permutation(len(data)), 0
        chosen = order[position:position + batch]
        real = paddle.to_tensor(data[chosen])
        position += batch
        count = batch if pick == "dis" else g_batch
        noise = paddle.to_tensor(noise_batch(rng, (count, conf.NOISE_DIM), args.noise))
        real_labels = fake_labels = None
        gen_inputs = (noise,)
        if classes:
            real_labels = paddle.to_tensor(labels[chosen])
            fake_labels = paddle.to_tensor(rng.integers(0, classes, count, dtype=np.int64))
            gen_inputs = (noise, fake_labels)
        t1 = time.perf_counter()
        if pick == "dis":
            fake = gen(*gen_inputs).detach()
            d_loss = (judge(real, real_target, real_labels)
                      + judge(fake, zeros, fake_labels))
            if args.r1_gamma:  # gamma/2 E||grad D(real)||^2, a pack's input at a time
                real.stop_gradient = False
                (grad,) = paddle.grad(dis(real).sum(), [real], create_graph=True)
                d_loss = d_loss + args.r1_gamma / 2 * (
                    grad.reshape([batch // m, -1]) ** 2).sum(1).mean()
            d_loss.backward()
            opt_d.step()
            opt_d.clear_grad()
        else:
            for param in dis_net.parameters():  # G's update computes no gradient for D's weights
                param.stop_gradient = True
            fake = gen(*gen_inputs)
            g_loss = (judge(fake, ones, fake_labels) if args.loss != "minimax"
                      else judge(fake, g_zeros, fake_labels, minimax=True))
            g_loss.backward()
            opt_g.step()
            opt_g.clear_grad()
            for param in dis_net.parameters():
                param.stop_gradient = False
            if average is not None:
                with paddle.no_grad():
                    for mean, param in zip(average.parameters(), gen.parameters()):
                        mean.set_value(mean + (1 - args.ema_decay) * (param - mean))
        float(d_loss if pick == "dis" else g_loss)  # what a user logs
        t2 = time.perf_counter()
        # no forwards of their own, no sync: the parts are data, step and nothing else
        times.record(i, pick, t0, t1, t1, t2, t2)
    return times


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import paddle
    import paddle.nn as nn
    import paddle.nn.functional as F

    class GeneratorTraining(nn.Layer):
        def __init__(self, gen, dis):
            super().__init__()
            self.gen, self.dis = gen, dis

        def forward(self, noise):
            return self.dis(self.gen(noise))

    class Wrap(nn.Layer):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)

    np.random.seed(args.seed)
    paddle.seed(args.seed)
    conf = load_conf(args.conf)
    if args.data == "uniform":
        data = np.random.rand(args.data_size, 2).astype("float32")
    elif args.data in ("ring", "grid"):
        data = mixture_points(args.data, args.data_size, args.seed)
    else:
        data = load_mnist_images(args.data_dir, *args.pixel_range)
    if args.loop == "alternate":
        alternate_loop(args, data, conf).print_json()
        return 0
    shape, batch = data.shape[1:], args.batch_size

    gen_training = GeneratorTraining(conf.build_generator(shape), conf.build_discriminator(shape))
    dis_training = Wrap(conf.build_discriminator(shape))
    generator = Wrap(conf.build_generator(shape))
    for param in gen_training.dis.parameters():
        param.stop_gradient = True
    dis_training.net.set_state_dict(gen_training.dis.state_dict())
    generator.net.set_state_dict(gen_training.gen.state_dict())

    def adam(params):
        return paddle.optimizer.Adam(learning_rate=args.learning_rate, beta1=args.beta1,
                                     beta2=args.beta2, parameters=params)

    opt_d, opt_g = adam(dis_training.parameters()), adam(gen_training.gen.parameters())

    def loss(logits, label):
        return F.cross_entropy(logits, paddle.full([batch, 1], label, dtype="int64"))

    def update(network, optimizer, inputs, label):
        cost = loss(network(inputs), label)
        cost.backward()
        optimizer.step()
        optimizer.clear_grad()
        return float(cost)

    current, strike = "dis", 0
    times = PartTimes(args.iters, args.warmup)
    for i in times.loop():
        t0 = time.perf_counter()
        indices = np.random.choice(len(data), batch, replace=False)
        real = paddle.to_tensor(data[indices])
        noise = paddle.to_tensor(
            np.random.normal(size=(batch, conf.NOISE_DIM)).astype("float32"))
        t1 = time.perf_counter()
        generator.eval()
        dis_training.eval()
        gen_training.eval()
        with paddle.no_grad():
            fake = generator(noise)
            d_loss = (float(loss(dis_training(real), 1)) + float(loss(dis_training(fake), 0))) / 2
            g_loss = float(loss(gen_training(noise), 1))
        t2 = time.perf_counter()
        current, strike = v1_pick(current, strike, d_loss, g_loss)
        if current == "dis":
            dis_training.train()
            update(dis_training, opt_d, fake, 0)
            update(dis_training, opt_d, real, 1)
            t3 = time.perf_counter()
            gen_training.dis.set_state_dict(dis_training.net.state_dict())
        else:
            gen_training.train()
            update(gen_training, opt_g, noise, 1)
            t3 = time.perf_counter()
            generator.net.set_state_dict(gen_training.gen.state_dict())
        times.record(i, current, t0, t1, t2, t3, time.perf_counter())
    times.print_json()
    return 0


if __name__ == "__main__":
    sys.exit(main())
