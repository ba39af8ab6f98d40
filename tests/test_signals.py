"""What SIGINT/SIGTERM do outside training: the process ends at once, saying what the run saved
(its checkpoints, once it has some: a stop during the last uploads is not "nothing was saved")."""
import subprocess
import sys

from tests.helpers import step_once, tiny_state

STOP_NOW = """
import os, signal, sys
from paddle_gan import signals
signals.stop_at_once()
if len(sys.argv) > 1:
    signals.say_saved(lambda: sys.argv[1])
os.kill(os.getpid(), signal.SIGTERM)
signal.pause()
"""


def stop(*args):
    return subprocess.run([sys.executable, "-c", STOP_NOW, *args], capture_output=True,
                          text=True, timeout=60)


def test_a_stop_before_anything_is_saved_says_so():
    result = stop()
    assert result.returncode == 143
    assert result.stderr.strip() == "stopped by SIGTERM; nothing was saved"


def test_a_stop_after_checkpoints_says_which(tmp_path):
    state = tiny_state(tmp_path, passes=1, iters=4)
    checkpointer = state.checkpointer
    assert checkpointer.saved_note() == "nothing was saved"
    for _ in range(2):
        step_once(state)
        checkpointer.save(state, "test")
    note = checkpointer.saved_note()
    assert note.startswith(f"2 checkpoint(s) saved in {checkpointer.directory}, the newest "
                           "step-00000002-pass-0000")
    result = stop(note)
    assert result.returncode == 143 and result.stderr.strip() == f"stopped by SIGTERM; {note}"
