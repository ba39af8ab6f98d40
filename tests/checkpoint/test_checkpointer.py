"""The run's checkpointer: NaN never saved, the newest save published, resume reads each
candidate once and continues exactly."""
import numpy as np
import pytest

from paddle_gan.checkpoint import files
from paddle_gan.checkpoint.files import list_checkpoints
from paddle_gan.errors import Diverged
from paddle_gan.plugins.checkpoint import CheckpointPlugin
from paddle_gan.trainer import train
from tests.helpers import tensors, tiny_state


def names(tmp_path):
    return [p.name for p in list_checkpoints(tmp_path / "checkpoints")]


def test_nan_anywhere_is_never_saved_and_stops_as_diverged(tmp_path):
    state = tiny_state(tmp_path)
    train(state, [])
    weight = dict(state.nets.dis_training.named_parameters())["dis.hidden.weight"]
    weight.set_value(np.full(weight.shape, np.nan, np.float32))
    with pytest.raises(Diverged, match="parameter 'net/dis_training/dis.hidden.weight' is NaN/Inf"):
        state.checkpointer.save(state, "test")
    assert names(tmp_path) == []


def test_save_publishes_the_checkpoint_and_resume_auto_reads_each_candidate_once(
        tmp_path, monkeypatch):
    state = tiny_state(tmp_path, passes=3, iters=4)
    train(state, [CheckpointPlugin(CheckpointPlugin.Options(keep_last=5))])
    assert names(tmp_path) == ["step-00000004-pass-0000", "step-00000008-pass-0001",
                               "step-00000012-pass-0002"]
    assert state.last_checkpoint.path.name == "step-00000012-pass-0002"
    assert state.last_checkpoint.global_step == 12 and state.last_checkpoint.pass_end
    newest = tmp_path / "checkpoints" / "step-00000012-pass-0002" / "arrays.npz"
    newest.write_bytes(newest.read_bytes()[:-10])
    reads, read = [], files._read_verified
    monkeypatch.setattr(files, "_read_verified", lambda path, name, entry: reads.append(
        (path.name, name)) or read(path, name, entry))
    warnings = []
    fresh = tiny_state(tmp_path, passes=3, iters=4)
    path = fresh.checkpointer.resume(fresh, "auto", warn=warnings.append)
    assert path.name == "step-00000008-pass-0001" and len(warnings) == 1
    assert reads == [("step-00000012-pass-0002", "arrays.npz"),
                     ("step-00000008-pass-0001", "arrays.npz"),
                     ("step-00000008-pass-0001", "meta.json")]
    assert (fresh.pass_id, fresh.iteration, fresh.global_step) == (2, 0, 8)
    assert fresh.last_checkpoint.path == path and fresh.checkpointer.resumed_from == path
    train(fresh, [])
    again = tiny_state(tmp_path / "again", passes=3, iters=4)
    train(again, [])
    assert all(np.array_equal(a, b) for a, b in zip(tensors(fresh).values(),
                                                    tensors(again).values()))
