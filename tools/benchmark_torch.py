"""The optional PyTorch comparison of tools/benchmark.py (`--compare torch`): the same networks
(layers, initialisations and batch-statistics batch norms of conf/gan_conf.py,
conf/gan_conf_image.py, conf/mlp_gan.py and conf/leaky_mlp_gan.py, rebuilt in torch) and the
same schedule (v1's, or the MLP GANs' D-then-G loop), written the ordinary PyTorch way, timed per
iteration.

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
from benchmark_plain import PartTimes, common_parser, load_mnist_images, noise_batch, v1_pick

NOISE_2D, HIDDEN_2D = 10, 10  # conf/gan_conf.py
NOISE_IMAGE, FILTERS = 100, 64  # conf/gan_conf_image.py: noise, gf = df


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


def alternate_loop(args, torch, data) -> PartTimes:
    """The MLP GANs' loop: a D update on a real and a fake batch, then a G update."""
    F = torch.nn.functional
    gen, dis = build_mlp(torch, args.conf.rsplit("/", 1)[-1])
    rng, batch = np.random.default_rng(args.seed), args.batch_size
    betas = (args.beta1, args.beta2)
    opt_d = torch.optim.Adam(dis.parameters(), lr=args.learning_rate, betas=betas,
                             eps=args.epsilon)
    opt_g = torch.optim.Adam(gen.parameters(), lr=args.learning_rate, betas=betas,
                             eps=args.epsilon)
    real_target = torch.full((batch, 1), args.real_label)
    zeros, ones = torch.zeros(batch, 1), torch.ones(batch, 1)
    order, position = torch.randperm(len(data)), 0
    times = PartTimes(args.iters, args.warmup)
    for i in times.loop():
        pick = "dis" if i % 2 == 0 else "gen"
        t0 = time.perf_counter()
        if position + batch > len(data):
            order, position = torch.randperm(len(data)), 0
        real = data[order[position:position + batch]]
        position += batch
        noise = torch.from_numpy(noise_batch(rng, (batch, 100), args.noise))
        t1 = time.perf_counter()
        if pick == "dis":
            fake = gen(noise).detach()
            loss = (F.binary_cross_entropy_with_logits(dis(real), real_target)
                    + F.binary_cross_entropy_with_logits(dis(fake), zeros))
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
        else:
            dis.requires_grad_(False)  # G's update computes no gradient for D's weights
            out = dis(gen(noise))
            loss = (F.binary_cross_entropy_with_logits(out, ones) if args.loss != "minimax"
                    else -F.binary_cross_entropy_with_logits(out, zeros))
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            dis.requires_grad_(True)
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
    else:
        data = load_mnist_images(args.data_dir, *args.pixel_range)
    data = torch.from_numpy(data)
    if args.loop == "alternate":
        alternate_loop(args, torch, data).print_json(threads=torch.get_num_threads(),
                                                     version=torch.__version__)
        return 0
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
