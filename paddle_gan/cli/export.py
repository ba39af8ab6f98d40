"""`paddle-gan export SOURCE --out DIR` (and `python tools/export.py`): a checkpoint's generator
as a Paddle inference model. Writes DIR/generator.json (.pdmodel on Paddle 2.6) +
generator.pdiparams (paddle.jit.save, input noise [None, noise_dim], and label [None] for a
conditional generator) and DIR/export_info.json, after checking that the saved model
reproduces the training generator. Thin: the logic is in paddle_gan.export.

Exit codes: 0 done; 1 the exported model does not match the generator; 2 bad usage or checkpoint.
"""
import argparse
import os

from .. import runtime
from . import SOURCE_HELP, Failed, guarded, log_to_terminal


def build_parser(prog: str = "paddle-gan export"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Export the generator of a checkpoint with paddle.jit.save, checked on the "
        "spot against the training generator.",
        epilog=SOURCE_HELP + " Exit codes: 0 done, 1 export check failed, 2 bad usage or "
        "checkpoint.",
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="checkpoint folder, checkpoints folder or run dir")
    parser.add_argument("--out", metavar="DIR", default="export",
                        help="where generator.json, generator.pdiparams and export_info.json go "
                        "(default: export)")
    return parser


def main(argv=None, prog: str = "paddle-gan export") -> int:
    runtime.configure_cpu_environment()
    os.environ.setdefault("GLOG_minloglevel", "2")  # Paddle's executor chatter on jit.load
    args = build_parser(prog).parse_args(argv)
    return guarded(lambda: export(args))


def export(args) -> int:
    runtime.import_paddle()
    from ..checkpoint.reader import open_checkpoint
    from ..export import ExportError, export_generator

    log_to_terminal()  # what reading a store's checkpoints skips, say
    # an inference model is device-independent; check it on the CPU
    loaded = open_checkpoint(args.source, use_gpu=False)
    try:
        info = export_generator(loaded, args.out)
    except ExportError as err:
        raise Failed(f"export check failed: {err}") from None
    label = info["label_input"]
    inputs = f"noise {info['input']['shape']}" + (f", label {label['shape']}" if label else "")
    print(f"exported the generator of {loaded.path} to {args.out}: {inputs} -> "
          f"{info['output']['shape']}; reloaded and checked, max abs "
          f"diff {info['check']['max_abs_diff']:.2g}")
    return 0
