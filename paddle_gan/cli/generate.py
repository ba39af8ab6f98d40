"""`paddle-gan generate SOURCE [--num N] [--seed S] [--out PREFIX]` (and `python
tools/generate.py`): samples from a checkpoint, or `--pass P` to regenerate the picture the run
logged for pass P; a conditional generator's classes with `--labels 3,3,7` or `--class 7`.
Writes PREFIX.png and PREFIX.npy. Thin on purpose: the logic is in paddle_gan.generate.

Exit codes: 0 done; 2 bad usage or an unusable checkpoint (one line, no traceback).
"""
import argparse
import os

from .. import runtime
from ..errors import UsageError
from . import SOURCE_HELP, guarded, log_to_terminal


def label_list(text: str):
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected classes like 3,3,7, got {text!r}") from None


def build_parser(prog: str = "paddle-gan generate"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Generate samples from a checkpoint: a PNG (image grid or 2-D scatter) and "
        "a .npy array.",
        epilog=SOURCE_HELP + " Exit codes: 0 done, 2 bad usage or checkpoint.",
    )
    add = parser.add_argument
    add("source", metavar="SOURCE", help="checkpoint folder, checkpoints folder or run dir")
    add("--num", type=int, default=64, metavar="N", help="how many samples (default 64)")
    add("--seed", type=int, default=0, metavar="S", help="seed of the noise (default 0)")
    add("--pass", dest="pass_id", type=int, metavar="P",
        help="the checkpoint saved at the end of pass P, with the run's fixed noise: the "
        "picture the run logged as samples/pass-PPPP.png, byte for byte")
    add("--fixed_noise", action="store_true", help="use the run's fixed noise (not --num/--seed)")
    classes = parser.add_mutually_exclusive_group()
    classes.add_argument("--labels", type=label_list, metavar="C,C,...",
                         help="a conditional generator: one sample of each class listed "
                         "(instead of --num)")
    classes.add_argument("--class", dest="class_id", type=int, metavar="C",
                         help="a conditional generator: --num samples of class C (default: "
                         "every class in turn, a column each)")
    add("--out", metavar="PREFIX", help="output PREFIX.png and PREFIX.npy (default "
        "generated/samples, or generated/pass-PPPP with --pass)")
    add("--use_gpu", type=int, choices=(0, 1), help="default: as the trainer")
    return parser


def main(argv=None, prog: str = "paddle-gan generate") -> int:
    runtime.configure_cpu_environment()
    args = build_parser(prog).parse_args(argv)
    return guarded(lambda: generate(args))


def generate(args) -> int:
    runtime.import_paddle()
    from ..checkpoint.reader import open_checkpoint
    from ..generate import regenerate_pass_picture, write_new_samples

    log_to_terminal()  # what reading a store's checkpoints skips, say
    if args.num < 1:
        raise UsageError(f"--num must be at least 1, got {args.num}")
    loaded = open_checkpoint(args.source, args.pass_id, args.use_gpu)
    if args.pass_id is not None or args.fixed_noise:
        if args.labels or args.class_id is not None:
            raise UsageError("the fixed noise has its own classes (a row each); --labels "
                             "and --class are for new samples")
        out = args.out or os.path.join(
            "generated", f"pass-{loaded.meta['saved_at']['pass_id']:04d}")
        png, npy = regenerate_pass_picture(loaded, out)
    else:
        png, npy = write_new_samples(loaded, args.num, args.seed,
                                     args.out or "generated/samples", args.labels,
                                     args.class_id)
    print(f"from {loaded.path}: {png} and {npy}")
    return 0
