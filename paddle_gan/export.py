"""Export the generator of a checkpoint as a Paddle inference model, checked on the spot.

`paddle.jit.save` writes `<out>/generator.json` (`.pdmodel` on Paddle 2.6) and
`generator.pdiparams` with the input noise [None, noise_dim] float32 (and for a conditional
generator a second one, label [None] int64), and
`<out>/export_info.json` says what a user needs to feed and read it. Before anything is reported
as done the saved model is loaded back with `paddle.jit.load` and its output compared with the
training generator's on the same noise; a difference above `TOLERANCE` (or a non-finite output)
is an `ExportError`, never a silent bad export.
"""
from __future__ import annotations

import json

import numpy as np

from . import storage
from .checkpoint.reader import Loaded
from .noise import balanced_labels, sample_noise

TOLERANCE = 1e-5
CHECK_SAMPLES, CHECK_SEED = 64, 0
MODEL_NAME, INFO_NAME = "generator", "export_info.json"


class ExportError(Exception):
    """The exported model does not reproduce the training generator."""


def export_generator(loaded: Loaded, out_dir) -> dict:
    """Write the inference model and its info JSON under `out_dir`; return the info."""
    import paddle

    from . import compat
    from .networks import generate

    out_dir = storage.make_folder(out_dir, "export folder")
    noise = sample_noise(CHECK_SAMPLES, CHECK_SEED, loaded.noise_dim, loaded.noise_distribution)
    classes = loaded.num_classes
    labels = balanced_labels(CHECK_SAMPLES, classes) if classes else None
    assert loaded.generator is not None  # load_generator set it
    # The reference comes first: jit.save converts the layer's forward to a static program.
    expected = generate(loaded.generator, noise, labels)
    prefix = out_dir / MODEL_NAME
    specs = [paddle.static.InputSpec([None, loaded.noise_dim], "float32", name="noise")]
    if classes:
        specs.append(paddle.static.InputSpec([None], "int64", name="label"))
    with storage.writing("the inference model", prefix), \
            compat.exportable(loaded.generator) as generator:  # Paddle 2.6: see compat
        paddle.jit.save(generator, str(prefix), input_spec=specs)

    model = paddle.jit.load(str(prefix))
    model.eval()
    inputs = [paddle.to_tensor(noise)] + ([paddle.to_tensor(labels)] if labels is not None else [])
    with paddle.no_grad():
        got = np.asarray(model(*inputs).numpy())
    if got.shape != expected.shape:
        raise ExportError(f"{prefix}: exported model gives shape {list(got.shape)}, the "
                          f"generator {list(expected.shape)}")
    diff = float(np.max(np.abs(got - expected)))
    if not np.isfinite(got).all() or not diff <= TOLERANCE:
        raise ExportError(f"{prefix}: exported model differs from the training generator by "
                          f"{diff:.3g} (max abs, {CHECK_SAMPLES} samples; allowed {TOLERANCE})")

    settings = loaded.meta["settings"]
    info = {
        "model": {"files": [MODEL_NAME + compat.program_suffix(), f"{MODEL_NAME}.pdiparams"],
                  "load": f"paddle.jit.load('{prefix}')"},
        "input": {"name": "noise", "shape": [None, loaded.noise_dim], "dtype": "float32",
                  "distribution": {"normal": "standard normal",
                                   "uniform": "uniform on [-1, 1)"}[loaded.noise_distribution]},
        "label_input": ({"name": "label", "shape": [None], "dtype": "int64",
                         "classes": list(range(classes))} if classes else None),
        "output": {"shape": [None, *loaded.sample_shape], "dtype": "float32",
                   "pixel_range": list(loaded.pixel_range) if loaded.pixel_range else None},
        "conf": settings["conf"],  # the conf module that defines the generator
        "conf_path": str(loaded.conf_path.resolve()),
        "data": settings["data"],
        "source_checkpoint": str(loaded.path.resolve()),
        "trained": {k: loaded.meta["saved_at"][k] for k in ("pass_id", "iteration", "global_step")},
        "check": {"samples": CHECK_SAMPLES, "seed": CHECK_SEED, "max_abs_diff": diff,
                  "tolerance": TOLERANCE},
        "paddle_version": paddle.__version__,
    }
    storage.write_bytes(out_dir / INFO_NAME, (json.dumps(info, indent=1) + "\n").encode(),
                        "export info")
    return info
