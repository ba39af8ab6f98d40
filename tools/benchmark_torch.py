"""The optional PyTorch comparison of tools/benchmark.py (`--compare torch`): the same networks
(layers, initialisations and batch-statistics batch norms of conf/gan_conf.py,
conf/gan_conf_image.py, conf/mlp_gan.py, conf/leaky_mlp_gan.py, conf/acgan.py and
conf/acgan_bn.py, rebuilt in torch) and the same schedule (v1's, or the MLP GANs' and the
AC-GAN's D-then-G loop, as tools/benchmark_plain.py's `--loop alternate` describes it), written
the ordinary PyTorch way, timed per iteration.

Run by the benchmark as `python tools/benchmark_torch.py ...` in a subprocess with the
trainer's CPU environment, only when torch is importable; it never imports paddle. Batches come
from a shuffle per pass (a slice per iteration), as in our trainer, so this measures the
frameworks and not v1's batch drawing. It prints one JSON line: median milliseconds per part.
"""
from __future__ import annotations

import sys
import time

import numpy as np

# benchmark_plain imports paddle only inside its main(): its helpers are framework-free.
from benchmark_plain import (
    PartTimes,
    common_parser,
    load_mnist_images,
    load_mnist_labels,
    mixture_points,
    noise_batch,
    v1_pick,
)

NOISE_2D, HIDDEN_2D = 10, 10  # conf/gan_conf.py
NOISE_IMAGE, FILTERS = 100, 64  # conf/gan_conf_image.py: noise, gf = df
NOISE_MLP = 100  # conf/mlp_gan.py, conf/leaky_mlp_gan.py
NOISE_ACGAN, CLASSES_ACGAN, DROPOUT_ACGAN, LEAK_ACGAN = 100, 10, 0.3, 0.3  # conf/acgan.py
NOISE_MIXTURE = 16  # conf/mixture_mlp.py


def filter_and_padding(big: int, small: int):
    """v1's rule (as conf/gan_conf_image.py): t = big - (small - 1) * 2."""
    t = big - (small - 1) * 2
    return (t + 2, 1) if t in (2, 3) else (t, 0)


def build(torch, data: str, shape):
    """(make_generator, make_discriminator, noise size) with the conf's layers and initialisations
    (these decide the losses, hence the v1 schedule's mix of D and G steps). The batch norms keep
    no running statistics, so like the confs' (v1's use_global_stats=False) they normalise every
    batch with its own statistics, in the training steps and the forward-only loss passes alike."""
    nn = torch.nn
    bias = 1.0 if data == "uniform" else 0.0  # gan_conf.py starts biases at 1, the image conf at 0

    def init(layer, std, mean=0.0):
        nn.init.normal_(layer.weight, mean, std)
        nn.init.constant_(layer.bias, bias)
        return layer

    def bn(dim, kind=nn.BatchNorm2d):
        return init(kind(dim, track_running_stats=False), 0.02, mean=1.0)

    if data == "uniform":
        def fc(inp, out):  # v1's default fc init: N(0, 1/sqrt(fan_in))
            return init(nn.Linear(inp, out), inp ** -0.5)

        def mlp(inp, out):
            return nn.Sequential(fc(inp, HIDDEN_2D), nn.ReLU(), fc(HIDDEN_2D, HIDDEN_2D),
                                 bn(HIDDEN_2D, nn.BatchNorm1d), nn.ReLU(), fc(HIDDEN_2D, out))
        return (lambda: mlp(NOISE_2D, shape[0])), (lambda: mlp(shape[0], 2)), NOISE_2D
    channels, size = shape[0], shape[1]
    s2, s4, s8 = int(size / 2), int(size / 4), int(size / 8)

    def conv(cin, cout, big, small):
        k, p = filter_and_padding(big, small)
        return init(nn.Conv2d(cin, cout, k, 2, p), 0.02)

    def deconv(cin, cout, small, big):
        k, p = filter_and_padding(big, small)
        return init(nn.ConvTranspose2d(cin, cout, k, 2, p), 0.02)

    def gen():
        f = FILTERS
        return nn.Sequential(
            # v1 normalises the fc output per feature, before it is seen as an image.
            init(nn.Linear(NOISE_IMAGE, s8 * s8 * f * 4), 0.02),
            bn(s8 * s8 * f * 4, nn.BatchNorm1d), nn.ReLU(), nn.Unflatten(1, (f * 4, s8, s8)),
            deconv(f * 4, f * 2, s8, s4), bn(f * 2), nn.ReLU(),
            deconv(f * 2, f, s4, s2), bn(f), nn.ReLU(),
            deconv(f, channels, s2, size), nn.Tanh())

    def dis():
        f = FILTERS
        return nn.Sequential(
            conv(channels, f, size, s2), nn.ReLU(),
            conv(f, f * 2, s2, s4), bn(f * 2), nn.ReLU(),
            conv(f * 2, f * 4, s4, s8), bn(f * 4), nn.ReLU(),
            nn.Flatten(), init(nn.Linear(s8 * s8 * f * 4, 2), 0.02))

    return gen, dis, NOISE_IMAGE


def build_mlp(torch, conf_name: str):
    """(generator, discriminator) of conf/mlp_gan.py or conf/leaky_mlp_gan.py."""
    nn = torch.nn
    leaky = conf_name == "leaky_mlp_gan.py"

    def fc(inp, out):
        layer = nn.Linear(inp, out)
        if leaky:  # TensorFlow's dense default
            nn.init.xavier_uniform_(layer.weight)
        else:  # that code's xavier_init: N(0, sqrt(2 / fan_in))
            nn.init.normal_(layer.weight, 0.0, (2.0 / inp) ** 0.5)
        nn.init.zeros_(layer.bias)
        return layer

    act = nn.LeakyReLU(0.01) if leaky else nn.ReLU()
    gen = nn.Sequential(fc(100, 128), act, fc(128, 784), nn.Tanh() if leaky else nn.Sigmoid(),
                        nn.Unflatten(1, (1, 28, 28)))
    dis = nn.Sequential(nn.Flatten(), fc(784, 128), act, fc(128, 1))
    return gen, dis


def build_acgan(torch):
    """(generator, discriminator) of conf/acgan.py, layer for layer (its docstring says why each
    is so): G(noise, labels) -> images, D(images) -> (real/fake logit, class logits)."""
    nn, F = torch.nn, torch.nn.functional

    def init(layer, weight_init):  # Glorot as Keras, biases at 0
        weight_init(layer.weight)
        if getattr(layer, "bias", None) is not None:
            nn.init.zeros_(layer.bias)
        return layer

    normal, uniform = nn.init.xavier_normal_, nn.init.xavier_uniform_

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = init(nn.Embedding(CLASSES_ACGAN, NOISE_ACGAN), normal)
            self.dense1 = init(nn.Linear(NOISE_ACGAN, 1024), uniform)
            self.dense2 = init(nn.Linear(1024, 128 * 7 * 7), uniform)
            self.conv1 = init(nn.Conv2d(128, 256, 5, padding=2), normal)
            self.conv2 = init(nn.Conv2d(256, 128, 5, padding=2), normal)
            self.conv3 = init(nn.Conv2d(128, 1, 2), normal)

        def forward(self, noise, labels):
            x = noise * self.embedding(labels)
            x = F.relu(self.dense2(F.relu(self.dense1(x)))).reshape(-1, 128, 7, 7)
            x = F.relu(self.conv1(F.interpolate(x, scale_factor=2, mode="nearest")))
            x = F.relu(self.conv2(F.interpolate(x, scale_factor=2, mode="nearest")))
            return torch.tanh(self.conv3(F.pad(x, (0, 1, 0, 1))))  # "same" for 2x2: right, bottom

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(
                init(nn.Conv2d(cin, cout, 3, stride, 1), uniform)
                for cin, cout, stride in ((1, 32, 2), (32, 64, 1), (64, 128, 2), (128, 256, 1)))
            self.dropout = nn.Dropout(DROPOUT_ACGAN)
            self.adversarial = init(nn.Linear(256 * 7 * 7, 1), uniform)
            self.classes = init(nn.Linear(256 * 7 * 7, CLASSES_ACGAN), uniform)

        def forward(self, images):
            x = images
            for conv in self.convs:
                x = self.dropout(F.leaky_relu(conv(x), LEAK_ACGAN))
            x = x.flatten(1)
            return self.adversarial(x), self.classes(x)

    return Generator(), Discriminator()


def build_acgan_bn(torch):
    """(generator, discriminator) of conf/acgan_bn.py: the later Keras generator (dense 3x3x384,
    transposed convolutions 192 and 96 with batch norm, then 1 with tanh) with conf/acgan.py's
    discriminator; Keras's batch-norm momentum 0.99 and epsilon 1e-3, the batch's statistics in
    training as in our run."""
    nn, F = torch.nn, torch.nn.functional
    _, dis = build_acgan(torch)
    normal, uniform = nn.init.xavier_normal_, nn.init.xavier_uniform_

    def init(layer, weight_init):
        weight_init(layer.weight)
        if getattr(layer, "bias", None) is not None:
            nn.init.zeros_(layer.bias)
        return layer

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = init(nn.Embedding(CLASSES_ACGAN, NOISE_ACGAN), normal)
            self.dense = init(nn.Linear(NOISE_ACGAN, 3 * 3 * 384), uniform)
            self.deconv1 = init(nn.ConvTranspose2d(384, 192, 5, stride=1, padding=0), normal)
            self.bn1 = nn.BatchNorm2d(192, momentum=0.01, eps=1e-3)  # torch's = 1 - Keras's
            self.deconv2 = init(nn.ConvTranspose2d(192, 96, 5, stride=2, padding=2,
                                                   output_padding=1), normal)
            self.bn2 = nn.BatchNorm2d(96, momentum=0.01, eps=1e-3)
            self.deconv3 = init(nn.ConvTranspose2d(96, 1, 5, stride=2, padding=2,
                                                   output_padding=1), normal)

        def forward(self, noise, labels):
            x = F.relu(self.dense(noise * self.embedding(labels))).reshape(-1, 384, 3, 3)
            x = self.bn1(F.relu(self.deconv1(x)))
            x = self.bn2(F.relu(self.deconv2(x)))
            return torch.tanh(self.deconv3(x))

    return Generator(), dis


def build_mixture(torch, packing: int = 1):
    """(generator, discriminator) of conf/mixture_mlp.py: 16 -> 3 x 128 ReLU -> 2, and 2m (m
    points packed) -> 3 x 128 LeakyReLU(0.2) -> 1; weights N(0, 1/sqrt(fan_in)), biases 0."""
    nn = torch.nn

    def fc(inp, out):
        layer = nn.Linear(inp, out)
        nn.init.normal_(layer.weight, 0.0, inp ** -0.5)
        nn.init.zeros_(layer.bias)
        return layer

    def mlp(inp, out, act):
        layers = []
        for _ in range(3):
            layers += [fc(inp, 128), act()]
            inp = 128
        return nn.Sequential(*layers, fc(128, out))

    return mlp(NOISE_MIXTURE, 2, nn.ReLU), mlp(2 * packing, 1, lambda: nn.LeakyReLU(0.2))


def build_alternate(torch, conf_name: str, packing: int = 1):
    """(generator, discriminator, noise size, classes) of a conf timed with the alternate loop,
    by its file name; classes is 0 for an unconditional conf."""
    if conf_name == "acgan.py":
        return (*build_acgan(torch), NOISE_ACGAN, CLASSES_ACGAN)
    if conf_name == "acgan_bn.py":
        return (*build_acgan_bn(torch), NOISE_ACGAN, CLASSES_ACGAN)
    if conf_name == "mixture_mlp.py":
        return (*build_mixture(torch, packing), NOISE_MIXTURE, 0)
    if conf_name in ("mlp_gan.py", "leaky_mlp_gan.py"):
        return (*build_mlp(torch, conf_name), NOISE_MLP, 0)
    # a silent stand-in would time other networks than ours
    raise SystemExit(f"benchmark_torch: no PyTorch version of {conf_name}")


def alternate_loop(args, torch, data) -> PartTimes:
    """The MLP GANs' and the AC-GAN's loop: a D update on a real and a fake batch (with their
    classes, for the AC-GAN), then a G update on `--g_batches` batches."""
    F = torch.nn.functional
    m = args.packing
    gen, dis_net, noise_dim, classes = build_alternate(torch, args.conf.rsplit("/", 1)[-1], m)
    average = None
    if args.ema_decay:  # an average of G in a copy of it
        import copy

        average = copy.deepcopy(gen).requires_grad_(False)

    def dis(images):  # m points of a batch side by side: one verdict a pack
        return dis_net(images.reshape(-1, m * images.shape[1], *images.shape[2:]))
    labels = torch.from_numpy(load_mnist_labels(args.data_dir)) if classes else None
    rng, batch = np.random.default_rng(args.seed), args.batch_size
    betas = (args.beta1, args.beta2)
    opt_d = torch.optim.Adam(dis_net.parameters(), lr=args.learning_rate, betas=betas,
                             eps=args.epsilon)
    opt_g = torch.optim.Adam(gen.parameters(), lr=args.learning_rate, betas=betas,
                             eps=args.epsilon)

    def judge(images, target, classes_of, minimax=False):
        """D's loss on a batch: the logistic term against `target`, plus the class term."""
        out = dis(images)
        adv = out[0] if classes else out
        loss = F.binary_cross_entropy_with_logits(adv, target)
        loss = -loss if minimax else loss
        if classes:
            loss = loss + args.aux_weight * F.cross_entropy(out[1], classes_of)
        return loss

    g_batch = args.g_batches * batch
    real_target = torch.full((batch // m, 1), args.real_label)
    zeros, ones = torch.zeros(batch // m, 1), torch.ones(g_batch // m, 1)
    g_zeros = torch.zeros(g_batch // m, 1)
    order, position = torch.randperm(len(data)), 0
    times = PartTimes(args.iters, args.warmup, alternating=True)
    for i in times.loop():
        pick = "dis" if i % 2 == 0 else "gen"
        t0 = time.perf_counter()
        if position + batch > len(data):
            order, position = torch.randperm(len(data)), 0
        chosen = order[position:position + batch]
        real = data[chosen]
        position += batch
        count = batch if pick == "dis" else g_batch
        noise = torch.from_numpy(noise_batch(rng, (count, noise_dim), args.noise))
        real_labels = fake_labels = None
        gen_inputs = (noise,)
        if classes:
            real_labels = labels[chosen]
            fake_labels = torch.from_numpy(rng.integers(0, classes, count, dtype=np.int64))
            gen_inputs = (noise, fake_labels)
        t1 = time.perf_counter()
        if pick == "dis":
            fake = gen(*gen_inputs).detach()
            loss = judge(real, real_target, real_labels) + judge(fake, zeros, fake_labels)
            if args.r1_gamma:  # gamma/2 E||grad D(real)||^2, a pack's input at a time
                real = real.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(dis(real).sum(), real, create_graph=True)
                loss = loss + args.r1_gamma / 2 * grad.reshape(batch // m, -1).pow(2).sum(1).mean()
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
        else:
            dis_net.requires_grad_(False)  # G's update computes no gradient for D's weights
            fake = gen(*gen_inputs)
            loss = (judge(fake, ones, fake_labels) if args.loss != "minimax"
                    else judge(fake, g_zeros, fake_labels, minimax=True))
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            dis_net.requires_grad_(True)
            if average is not None:
                with torch.no_grad():
                    for mean, param in zip(average.parameters(), gen.parameters()):
                        mean.lerp_(param, 1 - args.ema_decay)
        loss.item()  # what a user logs
        t2 = time.perf_counter()
        times.record(i, pick, t0, t1, t1, t2, t2)
    return times


def main(argv=None) -> int:
    args = common_parser("PyTorch GAN iterations, timed.").parse_args(argv)
    import torch
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    if args.data == "uniform":
        data = rng.random((args.data_size, 2), dtype=np.float32)
    elif args.data in ("ring", "grid"):
        data = mixture_points(args.data, args.data_size, args.seed)
    else:
        data = load_mnist_images(args.data_dir, *args.pixel_range)
    data = torch.from_numpy(data)
    if args.loop == "alternate":
        if args.profile:  # where the time goes, by operator (`paddle-gan benchmark --ops`)
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                times = alternate_loop(args, torch, data)
            ran = times.warmup + len(times.parts["iteration"])
            ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:args.profile]
            times.print_json(threads=torch.get_num_threads(), version=torch.__version__,
                             ops=[{"op": e.key, "calls": e.count / ran,
                                   "ms": e.self_cpu_time_total / 1000 / ran} for e in ops])
            return 0
        alternate_loop(args, torch, data).print_json(threads=torch.get_num_threads(),
                                                     version=torch.__version__)
        return 0
    expected = "gan_conf.py" if args.data == "uniform" else "gan_conf_image.py"
    if args.conf.rsplit("/", 1)[-1] != expected:  # build() rebuilds only v1's two confs
        raise SystemExit(f"benchmark_torch: no PyTorch version of {args.conf} in the v1 loop")
    batch = args.batch_size
    make_gen, make_dis, noise_dim = build(torch, args.data, tuple(data.shape[1:]))
    gen, dis = make_gen(), make_dis()  # the trained copies
    gen_copy, dis_copy = make_gen(), make_dis()  # v1's other networks: synced by copying
    gen_copy.load_state_dict(gen.state_dict())
    dis_copy.load_state_dict(dis.state_dict())
    for param in list(gen_copy.parameters()) + list(dis_copy.parameters()):
        param.requires_grad_(False)
    betas = (args.beta1, args.beta2)
    opt_d = torch.optim.Adam(dis.parameters(), lr=args.learning_rate, betas=betas)
    opt_g = torch.optim.Adam(gen.parameters(), lr=args.learning_rate, betas=betas)
    ones = torch.ones(batch, dtype=torch.long)
    zeros = torch.zeros(batch, dtype=torch.long)

    def update(logits, labels, optimizer):
        cost = F.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        cost.backward()
        optimizer.step()

    current, strike, order, position = "dis", 0, torch.randperm(len(data)), 0
    times = PartTimes(args.iters, args.warmup)
    for i in times.loop():
        t0 = time.perf_counter()
        if position + batch > len(data):
            order, position = torch.randperm(len(data)), 0
        real = data[order[position:position + batch]]
        position += batch
        noise = torch.randn(batch, noise_dim)
        t1 = time.perf_counter()
        # No eval()/train() toggles: without running statistics both modes compute the same.
        with torch.no_grad():
            fake = gen_copy(noise)
            d_loss = (F.cross_entropy(dis(real), ones).item()
                      + F.cross_entropy(dis(fake), zeros).item()) / 2
            g_loss = F.cross_entropy(dis_copy(gen(noise)), ones).item()
        t2 = time.perf_counter()
        current, strike = v1_pick(current, strike, d_loss, g_loss)
        if current == "dis":
            update(dis(fake), zeros, opt_d)
            update(dis(real), ones, opt_d)
            t3 = time.perf_counter()
            dis_copy.load_state_dict(dis.state_dict())
        else:
            update(dis_copy(gen(noise)), ones, opt_g)
            t3 = time.perf_counter()
            gen_copy.load_state_dict(gen.state_dict())
        times.record(i, current, t0, t1, t2, t3, time.perf_counter())
    times.print_json(threads=torch.get_num_threads(), version=torch.__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
