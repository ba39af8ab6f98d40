"""The trainer's command line with a probe plugin, for tests that run it under
paddle.distributed.launch (a plugin registered by a test module would not exist in the launched
processes). `PROBE_DIR` receives rank-N.json from every rank at the end: its decisions, losses and
a digest of each parameter. `PROBE_SIGNAL_LAUNCHER_AT=k`: rank 0 sends SIGTERM to the launcher
after step k; `PROBE_DIE_AT=k`: rank 1 exits at once after step k; `PROBE_SKEW_AT=k`: rank 1
changes a weight after step k (the ranks then differ); `PROBE_LOST_AT_PASS_END=p` (with
`PROBE_LOST_HOW=exit|freeze`): at the end of pass p rank 1 exits, or freezes (SIGSTOP, which no
launcher notices), as it would enter the barrier; `PROBE_RANK1_ARGS`: more command-line words for
rank 1 alone (a rank started with other settings)."""
import hashlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paddle_gan import runtime  # noqa: E402

runtime.configure_cpu_environment()

from paddle_gan.cli.train import main  # noqa: E402
from paddle_gan.plugins.base import Plugin  # noqa: E402
from paddle_gan.registry import PLUGINS  # noqa: E402


def at(name: str) -> int:
    return int(os.environ.get(name, "0"))


@PLUGINS.register("rank_probe")
class RankProbe(Plugin):
    name = "rank_probe"
    writes_files = False

    @dataclass
    class Options:
        pass

    def __init__(self, options):
        self.steps = []

    def on_step_end(self, state):
        self.steps.append([state.global_step, state.result.decision, state.result.losses])
        rank, step = state.nets.ranks.rank, state.global_step
        if rank == 0 and step == at("PROBE_SIGNAL_LAUNCHER_AT"):
            os.kill(os.getppid(), signal.SIGTERM)
            time.sleep(2)  # the launcher's SIGTERM reaches both ranks before the next step
        if rank == 1 and step == at("PROBE_DIE_AT"):
            os._exit(9)
        if rank == 1 and step == at("PROBE_SKEW_AT"):
            weight = dict(state.nets.gen_training.named_parameters())["gen.out.weight"]
            weight.set_value(weight.numpy() * 1.001)

    def on_pass_end(self, state):
        lost_at = os.environ.get("PROBE_LOST_AT_PASS_END")
        if state.nets.ranks.rank == 1 and lost_at is not None and state.pass_id == int(lost_at):
            if os.environ.get("PROBE_LOST_HOW") == "freeze":
                os.kill(os.getpid(), signal.SIGSTOP)
            os._exit(9)

    def on_train_end(self, state):
        digests = {name: hashlib.sha256(tensor.numpy().tobytes()).hexdigest()
                   for name, tensor in state.nets.gen_training.state_dict().items()}
        record = {"rank": state.nets.ranks.rank, "world": state.nets.ranks.world,
                  "writer": state.is_writer, "steps": self.steps, "digests": digests,
                  "plugins": sorted(p.name for p in state.checkpointer.plugins)}
        path = Path(os.environ["PROBE_DIR"]) / f"rank-{state.nets.ranks.rank}.json"
        path.write_text(json.dumps(record))


def slow_failure_log(seconds: float) -> None:
    """`PROBE_SLOW_FAILURE_LOG=s`: rank 0 takes s seconds more to write its failure line, so
    the launcher's SIGTERM (after another rank's exit) reaches it while it does."""
    import paddle_gan.run as run

    write = run.log_failure

    def slow(message):
        if runtime.is_writer():
            time.sleep(seconds)
        write(message)

    run.log_failure = slow


if __name__ == "__main__":
    if at("PROBE_SLOW_FAILURE_LOG"):
        slow_failure_log(at("PROBE_SLOW_FAILURE_LOG"))
    argv = sys.argv[1:]
    if runtime.rank() == 1:
        argv += os.environ.get("PROBE_RANK1_ARGS", "").split()
    sys.exit(main(argv))
