"""Export a checkpoint's generator as a Paddle inference model:
`python tools/export.py SOURCE --out DIR`. Writes DIR/generator.json (.pdmodel on Paddle 2.6) +
generator.pdiparams (paddle.jit.save, input noise [None, noise_dim], and label [None] for a
conditional generator) and DIR/export_info.json,
after checking that the saved model reproduces the training generator. Thin: the logic is in
paddle_gan.export.

Exit codes: 0 done; 1 the exported model does not match the generator; 2 bad usage or checkpoint.
"""
import argparse
import os
import sys
from pathlib import Path

# Runs from a checkout whether or not the package is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paddle_gan import runtime  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(
        prog="export.py",
        description="Export the generator of a checkpoint with paddle.jit.save, checked on the "
        "spot against the training generator.",
        epilog="SOURCE: a checkpoint folder, a checkpoints folder or a run's output dir (then the "
        "newest valid checkpoint). Exit codes: 0 done, 1 export check failed, 2 bad usage or "
        "checkpoint.",
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="checkpoint folder, checkpoints folder or run dir")
    parser.add_argument("--out", metavar="DIR", default="export",
                        help="where generator.json, generator.pdiparams and export_info.json go "
                        "(default: export)")
    return parser


def main(argv=None) -> int:
    runtime.configure_cpu_environment()
    os.environ.setdefault("GLOG_minloglevel", "2")  # Paddle's executor chatter on jit.load
    args = build_parser().parse_args(argv)
    runtime.import_paddle()
    from paddle_gan.checkpoint.reader import open_checkpoint
    from paddle_gan.errors import UsageError
    from paddle_gan.export import ExportError, export_generator

    try:
        # an inference model is device-independent; check it on the CPU
        loaded = open_checkpoint(args.source, use_gpu=False)
        info = export_generator(loaded, args.out)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ExportError as err:
        print(f"error: export check failed: {err}", file=sys.stderr)
        return 1
    label = info["label_input"]
    inputs = f"noise {info['input']['shape']}" + (f", label {label['shape']}" if label else "")
    print(f"exported the generator of {loaded.path} to {args.out}: {inputs} -> "
          f"{info['output']['shape']}; reloaded and checked, max abs "
          f"diff {info['check']['max_abs_diff']:.2g}")
    return 0


if __name__ == "__main__":
    runtime.stop_at_once_on_signals()  # it only reads until its files are written whole
    sys.exit(main())
