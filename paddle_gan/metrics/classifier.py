"""The pinned MNIST feature extractor: a small LeNet-style classifier and its safe file format.

This file owns the network (two conv-pool stages and a hidden layer whose activations are the
features, then the logits), the batched NumPy feature/probability extraction the image metrics
use, and saving/loading it as a plain .npz of arrays (architecture included) with a JSON sidecar
recording the file's SHA-256. Loading never unpickles and refuses a file whose hash does not
match its sidecar, so the hash recorded with reference statistics names exactly one extractor;
a file that matches but is damaged or no classifier is refused too, with an ExtractorError.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from .. import storage
from ..errors import UsageError

PathLike = Union[str, Path]


class ExtractorError(UsageError):
    """A classifier file is missing, altered or does not match the statistics it is used with."""


class LeNet(nn.Layer):
    """1x28x28 inputs in [-1, 1] -> `features` (hidden, after ReLU) -> 10 logits."""

    def __init__(self, channels: Tuple[int, int] = (16, 32), hidden: int = 128):
        super().__init__()
        self.channels, self.hidden = (int(channels[0]), int(channels[1])), int(hidden)
        c1, c2 = self.channels
        self.conv1 = nn.Conv2D(1, c1, 5, padding=2)  # 28 -> 28, pooled to 14
        self.conv2 = nn.Conv2D(c1, c2, 5)  # 14 -> 10, pooled to 5
        self.fc = nn.Linear(c2 * 5 * 5, self.hidden)
        self.out = nn.Linear(self.hidden, 10)
        self.sha256: Optional[str] = None  # set by save/load: the identity of the weights

    def features(self, x: paddle.Tensor) -> paddle.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(paddle.flatten(x, 1)))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.out(self.features(x))


def extract(
    model: LeNet, images: np.ndarray, batch_size: int = 500
) -> Tuple[np.ndarray, np.ndarray]:
    """Features [N, hidden] and class probabilities [N, 10] (float64) of images [N, 1, 28, 28]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected images of shape [N, 1, 28, 28], got {images.shape}")
    was_training = model.training
    model.eval()
    feats, probs = [], []
    with paddle.no_grad():
        for start in range(0, len(images), batch_size):
            f = model.features(paddle.to_tensor(images[start : start + batch_size]))
            feats.append(f.numpy())
            probs.append(F.softmax(model.out(f), axis=1).numpy())
    if was_training:
        model.train()
    return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)


def file_sha256(path: PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(path: PathLike) -> Path:
    """`lenet.npz` -> `lenet.json`."""
    return Path(path).with_suffix(".json")


def save_classifier(model: LeNet, path: PathLike, extra: Optional[dict] = None) -> str:
    """Write weights and architecture to `path` (.npz) and the SHA-256 to its sidecar; return it.

    `extra` (e.g. test accuracy, seed) is stored in the sidecar for people, never read back.
    """
    path = Path(path)
    arrays = {name: value.numpy() for name, value in model.state_dict().items()}
    arrays["arch"] = np.array([*model.channels, model.hidden], dtype=np.int64)
    buffer = io.BytesIO()  # a file object, so np.savez cannot append its own suffix
    # NumPy's stub lets a **mapping's key be allow_pickle (a bool); these are weight names
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    storage.make_folder(path.parent, "the classifier's folder")
    storage.write_bytes(path, buffer.getvalue(), "classifier")
    sha = file_sha256(path)
    sidecar = {"sha256": sha, "file": path.name, "format": "npz, allow_pickle=False"}
    sidecar.update(extra or {})
    storage.write_bytes(sidecar_path(path), (json.dumps(sidecar, indent=2) + "\n").encode(),
                        "classifier sidecar")
    model.sha256 = sha
    return sha


def _unreadable(path: Path, what: str, err: Exception) -> ExtractorError:
    return ExtractorError(" ".join(f"{path}: not a readable {what} ({type(err).__name__}: "
                                   f"{err})".split()))


def _read_arrays(path: Path) -> dict:
    """The arrays in a classifier file. A sidecar that matches only says the file is the one that
    was recorded, not that it is intact: a damaged or foreign file is refused here, by name."""
    try:
        # a .npy or a pickle is no zip; np.load would return something other than an archive
        if not zipfile.is_zipfile(path):
            raise ValueError("not an npz (zip) archive")
        # allow_pickle=False: an object array raises instead of unpickling (running) its payload
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    # EOFError: an empty member; zlib.error: a damaged member of a compressed archive;
    # NotImplementedError / RuntimeError: a damaged compression method / encryption flag
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            RuntimeError) as err:
        raise _unreadable(path, "classifier", err) from None


def load_classifier(path: PathLike) -> LeNet:
    """The classifier in `path`, in eval mode, with `.sha256` set; refuses altered files.

    Every way the file or its sidecar can be wrong is an ExtractorError naming the file."""
    path, sidecar = Path(path), sidecar_path(path)
    if not path.is_file() or not sidecar.is_file():
        raise ExtractorError(
            f"classifier {path} or its sidecar {sidecar} is missing; "
            "train one with `python tools/train_classifier.py`"
        )
    try:
        recorded = json.loads(sidecar.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:  # TypeError: JSON but no object
        raise _unreadable(sidecar, "classifier sidecar", err) from None
    try:
        sha = file_sha256(path)
    except OSError as err:
        raise _unreadable(path, "classifier", err) from None
    if sha != recorded:
        raise ExtractorError(f"{path} has SHA-256 {sha} but {sidecar} records {recorded}")
    arrays = _read_arrays(path)
    arch = arrays.pop("arch", None)
    if arch is None or arch.shape != (3,) or arch.dtype.kind not in "iu" or arch.min() < 1:
        raise ExtractorError(f"{path}: no architecture (an 'arch' array of 3 positive integers); "
                             "not a classifier written by save_classifier")
    model = LeNet((int(arch[0]), int(arch[1])), int(arch[2]))
    expected = {name: list(value.shape) for name, value in model.state_dict().items()}
    if set(arrays) != set(expected):
        raise ExtractorError(f"{path} holds {sorted(arrays)}, a LeNet needs {sorted(expected)}")
    for name, value in arrays.items():
        # set_state_dict would only warn and keep the random initial weights
        if list(value.shape) != expected[name]:
            raise ExtractorError(f"{path}: {name} has shape {list(value.shape)}, its "
                                 f"architecture {arch.tolist()} needs {expected[name]}")
    model.set_state_dict({name: paddle.to_tensor(value) for name, value in arrays.items()})
    model.eval()
    model.sha256 = sha
    return model
