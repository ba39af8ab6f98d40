"""`paddle-gan evaluate SOURCE [--pass P] [--num N] [--seed S] [--json PATH]` (and
`python tools/evaluate.py`): the metrics of a checkpoint. Prints a table (each metric next to
the same metric of real data) and, with --json, writes the result with its protocol. Thin on
purpose: the logic is in paddle_gan.metrics.evaluator.

Exit codes: 0 done; 2 bad usage, an unusable checkpoint, data without metrics, missing reference
data or a refused extractor (one line, no traceback).
"""
import argparse
from pathlib import Path

from .. import runtime
from ..errors import UsageError
from . import SOURCE_HELP, guarded, log_to_terminal


def build_parser(prog: str = "paddle-gan evaluate"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Measure a checkpoint's generator: 2-D metrics against the true "
        "distribution, or MNIST classifier-feature metrics against the MNIST test split, each "
        "next to the same metric of real data.",
        epilog=SOURCE_HELP + " Exit codes: 0 done, 2 bad usage, checkpoint, data or "
        "extractor.",
    )
    add = parser.add_argument
    add("source", metavar="SOURCE", help="checkpoint folder, checkpoints folder or run dir")
    add("--pass", dest="pass_id", type=int, metavar="P",
        help="the checkpoint saved at the end of pass P")
    add("--num", type=int, metavar="N",
        help="how many samples (default: the plugin's, 10000 for the uniform square, 2500 for "
        "the ring and grid mixtures, 2000 for MNIST)")
    add("--seed", type=int, default=0, metavar="S",
        help="seed of the noise (default 0, the plugin's)")
    add("--json", metavar="PATH", help="also write the result as JSON to PATH")
    add("--classifier", metavar="NPZ", help="MNIST extractor (.npz with its .json sidecar); "
        "default: the pinned one shipped in paddle_gan/metrics/assets")
    add("--reference_cache", "--reference-cache", metavar="DIR",
        help="where reference statistics are cached (default output/metrics_cache)")
    add("--data_dir", metavar="DIR",
        help="MNIST files for the reference statistics (default: the run's data dir)")
    add("--use_gpu", type=int, choices=(0, 1), help="default: as the trainer")
    return parser


def main(argv=None, prog: str = "paddle-gan evaluate") -> int:
    runtime.configure_cpu_environment()
    args = build_parser(prog).parse_args(argv)
    return guarded(lambda: evaluate(args))


def evaluate(args) -> int:
    runtime.import_paddle()
    from .. import storage
    from ..checkpoint.reader import open_checkpoint
    from ..metrics.evaluator import DEFAULT_CACHE, dumps, evaluate_checkpoint, table

    if args.num is not None and args.num < 2:
        raise UsageError(f"--num must be at least 2, got {args.num}")
    log_to_terminal()  # the terminal hears when reference statistics are computed
    loaded = open_checkpoint(args.source, args.pass_id, args.use_gpu)
    result = evaluate_checkpoint(loaded, args.num, args.seed, args.classifier, args.data_dir,
                                 args.reference_cache or DEFAULT_CACHE)
    print(table(result))
    if args.json:
        out = Path(args.json)
        storage.make_folder(out.parent, "folder")
        storage.write_bytes(out, (dumps(result, indent=2) + "\n").encode(), "metrics")
        print(f"written to {out}")
    return 0
