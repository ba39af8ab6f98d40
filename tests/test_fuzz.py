"""Fuzz-style: many generated bad values into every setting, and damaged or hostile files into
every reader. A bad setting must be exit 2 with one `error:` line naming it; a damaged file must
be read, or refused with one line of the reader's error, never any other exception. The
generation is seeded, so a failure here reproduces."""
import dataclasses
import gzip
import io
import json
import math
import random
import struct
import typing
import zipfile

import numpy as np
import pytest
import yaml

from paddle_gan.checkpoint.files import load_checkpoint, save_checkpoint
from paddle_gan.checkpoint.train_state import collect, restore
from paddle_gan.cli.train import main
from paddle_gan.config import Settings, read_yaml, settings_from_dict
from paddle_gan.datasets.cifar import load_cifar
from paddle_gan.datasets.mnist import load_mnist
from paddle_gan.errors import UsageError
from paddle_gan.metrics.classifier import LeNet, load_classifier, save_classifier
from paddle_gan.registry import PLUGINS
from paddle_gan.trainer import train
from tests.helpers import REPO_ROOT, tiny_state

MUTATIONS = 40  # damaged copies of each file


# --- settings ----------------------------------------------------------------------------------

def fields(cls, prefix=""):
    """(dotted name, type, metadata) of every setting, nested dataclasses walked."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            yield from fields(hint, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, hint, f.metadata


def bad_values(hint, meta):
    """Values no setting of this type and range accepts."""
    optional = typing.get_origin(hint) is typing.Union
    base = [a for a in typing.get_args(hint) if a is not type(None)][0] if optional else hint
    values = [[1, 2], {"a": 1}]
    if base is int:
        values += [1.5, "x", True, 10**40]
        if "min" in meta:
            values.append(meta["min"] - 1)
        if "max" in meta:
            values.append(meta["max"] + 1)
    elif base is float:
        values += [math.nan, math.inf, -math.inf, "fast", 1e400, True]
        if "min" in meta:
            values.append(meta["min"] - 1.0)
        if "max" in meta:
            values.append(meta["max"] + 1.0)
    elif base is bool:
        values += [2, "maybe", 0.5]
    elif base is str:
        values += [3, 2.5]
        if "registry" in meta:
            values += ["no_such_thing", "", "x" * 500]
    elif typing.get_origin(base) in (list, typing.List):
        values = ["console", [1], ["no_such_plugin"], [["samples"]]]
    elif meta.get("free"):  # a mapping passed on as it is (storage_options)
        values = [[1], "text", 3]
    elif typing.get_origin(base) in (dict, typing.Dict):
        values = [[1], {"console": 1}, {"no_such_plugin": {}}, {"console": {"bogus": 1}}]
    return values


def setting_cases():
    cases = []
    for name, hint, meta in fields(Settings):
        cases += [(name, value) for value in bad_values(hint, meta)]
    for plugin in PLUGINS.names():
        cls = PLUGINS.get(plugin)
        if cls.__module__.startswith("paddle_gan."):
            for name, hint, meta in fields(cls.Options, f"plugin_options.{plugin}."):
                cases += [(name, value) for value in bad_values(hint, meta)]
    return cases


SETTING_CASES = setting_cases()


def test_there_are_many_setting_cases():
    assert len(SETTING_CASES) > 150


@pytest.mark.parametrize("name, value", SETTING_CASES,
                         ids=[f"{n}={str(v)[:20]}" for n, v in SETTING_CASES])
def test_a_bad_setting_is_exit_2_and_one_line_naming_it(tmp_path, capsys, name, value):
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    text = text.removesuffix("\n...").strip()
    # A tiny run if the value were accepted; the value under test is set last, so it wins.
    tiny = ["num_passes=1", "iters_per_pass=1", "plugins=[]", "data_size=64", "batch_size=8",
            f"output_dir={tmp_path / 'run'}"]
    code = main(["--config", str(REPO_ROOT / "conf" / "uniform.yaml"),
                 *[arg for item in tiny for arg in ("--set", item)], "--set", f"{name}={text}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and len(err[0]) < 400
    leaf = name.split(".")[-1]
    assert leaf in err[0] or name.split(".")[1] in err[0], err[0]


def test_bad_settings_from_a_dict_never_raise_anything_else():
    rng = random.Random(0)
    atoms = [None, True, -1, 0, 1.5, math.nan, "x", "", [], {}, [1], {"a": None}, 10**30]
    keys = [name.split(".")[0] for name, _, _ in fields(Settings)] + ["bogus", "", "0"]
    for _ in range(300):
        raw = {rng.choice(keys): rng.choice(atoms) for _ in range(rng.randint(1, 4))}
        try:
            settings_from_dict(raw)
        except UsageError as err:
            assert "\n" not in str(err)


# --- damaged files into every reader -----------------------------------------------------------

def mutations(data: bytes, seed: int):
    """Seeded damaged copies: truncations, flipped bytes, inserted junk, zeroed spans."""
    rng = random.Random(seed)
    for i in range(MUTATIONS):
        blob = bytearray(data)
        kind = i % 4
        if kind == 0 and blob:
            blob = blob[: rng.randrange(len(blob))]
        elif kind == 1 and blob:
            for _ in range(rng.randint(1, 8)):
                blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        elif kind == 2:
            at = rng.randrange(len(blob) + 1)
            blob[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif blob:
            start = rng.randrange(len(blob))
            blob[start:start + rng.randint(1, 256)] = bytes(min(256, len(blob) - start))
        yield bytes(blob)


def read_or_refuse(read, *args):
    """`read(*args)`; a refusal must be one line of a UsageError, nothing else."""
    try:
        return read(*args)
    except UsageError as err:
        assert "\n" not in str(err) and len(str(err)) < 600, str(err)[:600]
        return None


def test_damaged_run_configs(tmp_path):
    original = (REPO_ROOT / "conf" / "uniform.yaml").read_bytes()
    for i, blob in enumerate(mutations(original, seed=1)):
        path = tmp_path / f"{i}.yaml"
        path.write_bytes(blob)
        raw = read_or_refuse(read_yaml, path)
        if raw is not None:
            read_or_refuse(settings_from_dict, raw)


def idx_files(folder, count=20):
    rng = np.random.default_rng(0)
    images = struct.pack(">iiii", 2051, count, 28, 28) + rng.integers(
        0, 256, (count, 28, 28), dtype=np.uint8).tobytes()
    labels = struct.pack(">ii", 2049, count) + rng.integers(0, 10, count, dtype=np.uint8).tobytes()
    return {"train-images-idx3-ubyte": images, "train-labels-idx1-ubyte": labels}


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
def test_damaged_mnist_files(tmp_path, compressed):
    files = idx_files(tmp_path)
    for name, original in files.items():
        data = gzip.compress(original) if compressed else original
        for i, blob in enumerate(mutations(data, seed=hash(name) % 1000)):
            folder = tmp_path / f"{name}-{i}"
            folder.mkdir()
            for other, content in files.items():
                suffix = ".gz" if compressed else ""
                payload = blob if other == name else (
                    gzip.compress(content) if compressed else content)
                (folder / f"{other}{suffix}").write_bytes(payload)
            read_or_refuse(load_mnist, folder, "train")


def test_damaged_cifar_files(tmp_path):
    record = bytes([4]) + bytes(range(256)) * 12
    original = record * 3
    for i, blob in enumerate(mutations(original, seed=7)):
        folder = tmp_path / str(i) / "cifar-10-batches-bin"
        folder.mkdir(parents=True)
        for b in range(1, 6):
            (folder / f"data_batch_{b}.bin").write_bytes(blob if b == 3 else original)
        read_or_refuse(load_cifar, folder.parent, "train")


def test_damaged_classifiers(tmp_path):
    path = tmp_path / "tiny.npz"
    save_classifier(LeNet(channels=(2, 2), hidden=4), path)
    original = path.read_bytes()
    for i, blob in enumerate(mutations(original, seed=3)):
        damaged = tmp_path / f"{i}.npz"
        damaged.write_bytes(blob)
        digest = __import__("hashlib").sha256(blob).hexdigest()
        damaged.with_suffix(".json").write_text(json.dumps({"sha256": digest}))  # vouched for
        read_or_refuse(load_classifier, damaged)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A tiny run's checkpoint (arrays, meta) to damage."""
    folder = tmp_path_factory.mktemp("run")
    state = tiny_state(folder, passes=1, iters=6)
    train(state, [])
    return collect(state, [], pass_end=True, reason="fuzz")


def damaged_metas(meta: dict, seed: int):
    """Seeded hand-made metas: a value of one field replaced by one of another kind."""
    rng = random.Random(seed)
    junk = [None, -1, 2**70, "x", [], {}, [1, 2, 3], {"a": {}}, 1.5, math.inf, True]

    def paths(tree, prefix=()):
        if isinstance(tree, dict):
            for key, value in tree.items():
                yield prefix + (key,)
                yield from paths(value, prefix + (key,))
        elif isinstance(tree, list):
            for i, value in enumerate(tree[:4]):
                yield prefix + (i,)
                yield from paths(value, prefix + (i,))

    every = list(paths(meta))
    for _ in range(120):
        damaged = json.loads(json.dumps(meta))
        where = rng.choice(every)
        parent = damaged
        for key in where[:-1]:
            parent = parent[key]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = rng.choice(junk)
        yield damaged


def test_hand_made_metas_restore_or_refuse_in_one_line(saved_run, tmp_path):
    arrays, meta = saved_run
    fresh = tiny_state(tmp_path, passes=1, iters=6)
    for damaged in damaged_metas(meta, seed=11):
        read_or_refuse(restore, fresh, [], arrays, damaged, "ckpt")


def test_damaged_checkpoint_files_load_or_refuse_in_one_line(saved_run, tmp_path):
    arrays, meta = saved_run
    path = save_checkpoint(tmp_path, "step-00000006-pass-0000", arrays, meta, 1)
    for name in ("arrays.npz", "meta.json", "manifest.json"):
        original = (path / name).read_bytes()
        for blob in mutations(original, seed=len(name)):
            (path / name).write_bytes(blob)
            read_or_refuse(load_checkpoint, path)
        (path / name).write_bytes(original)


def test_damaged_arrays_that_their_manifest_vouches_for(saved_run, tmp_path):
    # The hardest case for a reader: a file damaged before its manifest was written.
    arrays, meta = saved_run
    fresh = tiny_state(tmp_path / "fresh", passes=1, iters=6)
    buffer = io.BytesIO()
    np.savez(buffer, **{f"k_{k.replace('/', '%2F')}": v for k, v in arrays.items()})
    rng = random.Random(5)
    for i in range(30):
        damaged = dict(arrays)
        key = rng.choice(sorted(damaged))
        damaged[key] = rng.choice([np.zeros(3, np.float32), np.full((2, 2), np.nan, np.float32),
                                   np.zeros((), np.int64), damaged[key].astype(np.float64)])
        if rng.random() < 0.3:
            del damaged[key]
        path = save_checkpoint(tmp_path / str(i), "step-00000006-pass-0000", damaged, meta, 1)
        loaded = read_or_refuse(load_checkpoint, path)
        if loaded is not None:
            read_or_refuse(restore, fresh, [], *loaded, "ckpt")
    assert zipfile.is_zipfile(io.BytesIO(buffer.getvalue()))


def test_damaged_reference_statistics_are_computed_again(tmp_path):
    from paddle_gan.metrics.image import ReferenceStats, reference_stats

    model = LeNet(channels=(2, 2), hidden=4)
    save_classifier(model, tmp_path / "tiny.npz")
    images = np.random.default_rng(0).uniform(-1, 1, (16, 1, 28, 28)).astype(np.float32)
    path = tmp_path / "cache.npz"
    good = reference_stats(path, model, "test", lambda: images)
    original = path.read_bytes()
    for blob in mutations(original, seed=9):
        path.write_bytes(blob)
        again = read_or_refuse(reference_stats, path, model, "test", lambda: images)
        if again is not None:  # read as it was, or computed again: the same statistics
            assert np.allclose(again.mean, good.mean) and isinstance(again, ReferenceStats)
