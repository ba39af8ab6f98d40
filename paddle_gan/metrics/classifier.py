"""The pinned MNIST feature extractor: a small LeNet-style classifier and its safe file format.

This file owns the network (two conv-pool stages and a hidden layer whose activations are the
features, then the logits), the batched NumPy feature/probability extraction the image metrics
use, and saving/loading it as a plain .npz of arrays (architecture included) with a JSON sidecar
recording the file's SHA-256. Loading never unpickles and refuses a file whose hash does not
match its sidecar, so the hash recorded with reference statistics names exactly one extractor.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

PathLike = Union[str, Path]


class ExtractorError(Exception):
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
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: value.numpy() for name, value in model.state_dict().items()}
    arrays["arch"] = np.array([*model.channels, model.hidden], dtype=np.int64)
    with open(path, "wb") as f:  # a file object, so np.savez cannot append its own suffix
        np.savez(f, **arrays)
    sha = file_sha256(path)
    sidecar = {"sha256": sha, "file": path.name, "format": "npz, allow_pickle=False"}
    sidecar.update(extra or {})
    sidecar_path(path).write_text(json.dumps(sidecar, indent=2) + "\n")
    model.sha256 = sha
    return sha


def load_classifier(path: PathLike) -> LeNet:
    """The classifier in `path`, in eval mode, with `.sha256` set; refuses altered files."""
    path, sidecar = Path(path), sidecar_path(path)
    if not path.is_file() or not sidecar.is_file():
        raise ExtractorError(
            f"classifier {path} or its sidecar {sidecar} is missing; "
            "train one with `python tools/train_classifier.py`"
        )
    recorded = json.loads(sidecar.read_text()).get("sha256")
    sha = file_sha256(path)
    if sha != recorded:
        raise ExtractorError(f"{path} has SHA-256 {sha} but {sidecar} records {recorded}")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    c1, c2, hidden = (int(v) for v in arrays.pop("arch"))
    model = LeNet((c1, c2), hidden)
    expected = set(model.state_dict())
    if set(arrays) != expected:
        raise ExtractorError(f"{path} holds {sorted(arrays)}, a LeNet needs {sorted(expected)}")
    model.set_state_dict({name: paddle.to_tensor(value) for name, value in arrays.items()})
    model.eval()
    model.sha256 = sha
    return model
