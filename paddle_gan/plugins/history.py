"""The `history` plugin: each pass's losses on held-out data next to the pass's training means.

What the Keras AC-GAN prints after each epoch, in this trainer's form, for any run on data with
a test split (a data source module's `load_test(settings)`: MNIST's and CIFAR-10's). The
training means are the means of the pass's forward losses, each over the iterations that
computed it (with `alternate`, D's terms over the D steps). The test losses are the same terms
on held-out data, in inference mode (no dropout): D's on `n_real` real test samples and as many
generated ones, G's on twice as many noise samples (the example's 10,000, 10,000 and 20,000),
with noise and classes from the plugin's own seeded generator, so training with and without it
is the same. Each pass's numbers are printed as a small table, appended to
`<output_dir>/history.jsonl` (one JSON object a line) and published as `state.history` (the
`visualdl` plugin charts them).
"""
from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Optional

import numpy as np

from .. import storage
from ..config import MAX_SEED
from ..errors import DataError
from ..metrics.evaluator import dumps
from ..noise import draw
from ..registry import DATASETS
from ..state import TrainState
from .base import Plugin

if TYPE_CHECKING:
    from ..datasets.base import ArrayDataset

log = logging.getLogger(__name__)

CHUNK = 500  # samples a forward
# (row, network's adversarial term, its auxiliary term), as the Keras example's table has them
ROWS = (("generator", "g", "g_aux"), ("discriminator", "d", "d_aux"))


def load_test_split(settings):
    """The data source's test split, or None when its module defines no `load_test`."""
    load_test = getattr(inspect.getmodule(DATASETS.get(settings.data)), "load_test", None)
    return load_test(settings) if load_test else None


class HistoryPlugin(Plugin):
    name = "history"

    @dataclass
    class Options:
        # real test samples D is measured on (and as many generated; G on twice as many)
        n_real: int = field(default=10_000, metadata={"min": 1, "max": 10_000_000})
        seed: int = field(default=0, metadata={"min": 0, "max": MAX_SEED})  # noise and classes

    def __init__(self, options: Options):
        self.options = options
        self._test: Optional[ArrayDataset] = None
        self._pass: Optional[int] = None  # the pass the sums belong to
        self._sums: Dict[str, float] = {}  # of each term, over the iterations that logged it
        self._counts: Dict[str, int] = {}  # (a penalty: the D steps only)

    def state_dict(self) -> dict:
        return {"pass": self._pass, "sums": self._sums, "counts": self._counts}

    def load_state_dict(self, state: dict) -> None:
        self._pass = state["pass"]
        self._sums = {str(k): float(v) for k, v in state["sums"].items()}
        self._counts = {str(k): int(v) for k, v in state["counts"].items()}

    def on_train_start(self, state: TrainState) -> None:
        try:
            self._test = load_test_split(state.settings)
        except DataError as err:
            log.warning(f"history plugin disabled: no test split ({err})")
            return
        if self._test is None:
            log.info(f"history plugin disabled: data {state.settings.data} has no test split")

    def on_step_end(self, state: TrainState) -> None:
        if self._pass != state.pass_id:  # a new pass, or resumed from a pass end's checkpoint
            self._pass, self._sums, self._counts = state.pass_id, {}, {}
        for name in state.result.computed:  # a term's mean over the steps that computed it
            value = state.result.losses[name]
            self._sums[name] = self._sums.get(name, 0.0) + value
            self._counts[name] = self._counts.get(name, 0) + 1

    def on_pass_end(self, state: TrainState) -> None:
        if self._test is None or self._pass != state.pass_id:
            return
        start = time.perf_counter()
        train = {name: total / self._counts[name] for name, total in self._sums.items()}
        packing = state.nets.packing  # a packed D judges whole packs only
        n_real = max(packing, min(self.options.n_real, len(self._test)) // packing * packing)
        record = {"pass": state.pass_id, "global_step": state.global_step,
                  "aux_weight": state.settings.loss.aux_weight, "train": train,
                  "test": self._test_losses(state, n_real),
                  "test_samples": {"real": n_real, "generated": n_real, "noise": 2 * n_real}}
        storage.append_text(state.output_dir / "history.jsonl", dumps(record) + "\n", "history")
        state.history = record
        log.info(f"pass {state.pass_id} history ({n_real} real test samples, "
                 f"{time.perf_counter() - start:.1f} s):\n{table(record)}")

    def _test_losses(self, state: TrainState, n_real: int) -> Dict[str, float]:
        """D's and G's terms on held-out data, in inference mode; the networks' modes kept. The
        noise and classes are drawn at once, so the numbers do not depend on CHUNK."""
        import paddle

        from ..losses import judged

        nets, objective, test = state.nets, state.step.objective, self._test
        assert test is not None  # on_pass_end measures only with a test split
        chunk = CHUNK // nets.packing * nets.packing
        rng = np.random.default_rng(self.options.seed)
        noise = draw(rng, (3 * n_real, nets.noise_dim), state.settings.noise)  # D's, then G's
        labels = (rng.integers(0, nets.num_classes, 3 * n_real, dtype=np.int64)
                  if nets.num_classes else None)

        def tensor(array, start, end):
            return None if array is None else paddle.to_tensor(array[start:end])

        def judge_fakes(start, end):
            fake_labels = tensor(labels, start, end)
            fake = nets.generator(tensor(noise, start, end), fake_labels)
            return judged(dis(fake), fake_labels)

        sums: Dict[str, float] = {}

        def add(terms, weight):
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value) * weight

        dis, was_training = nets.dis_training, nets.dis_training.training
        dis.eval()
        try:
            with paddle.no_grad():
                for start in range(0, n_real, chunk):
                    end = min(start + chunk, n_real)
                    real = judged(dis(tensor(test.samples, start, end)),
                                  tensor(test.labels if nets.num_classes else None, start, end))
                    terms = objective.terms(real, judge_fakes(start, end))
                    add({k: v for k, v in terms.items() if k not in ("g", "g_aux")},
                        (end - start) / n_real)
                for start in range(n_real, 3 * n_real, chunk):
                    end = min(start + chunk, 3 * n_real)
                    add(objective.g_terms(judge_fakes(start, end)), (end - start) / (2 * n_real))
        finally:
            dis.train() if was_training else dis.eval()
        return objective.logged(sums)


def table(record: dict) -> str:
    """The Keras example's table: per network and split, total = adversarial + weight x aux."""
    conditional = "d_aux" in record["train"]
    weight = record["aux_weight"]
    head = f"    {'':<22}{'total':>10}{'adversarial':>13}{'auxiliary':>11}" if conditional \
        else f"    {'':<22}{'adversarial':>13}"
    lines = [head]
    for row, adv, aux in ROWS:
        for split in ("train", "test"):
            terms = record[split]
            label = f"{row} ({split})"
            if conditional:
                total = terms[adv] + weight * terms[aux]
                lines.append(f"    {label:<22}{total:>10.4f}{terms[adv]:>13.4f}{terms[aux]:>11.4f}")
            else:
                lines.append(f"    {label:<22}{terms[adv]:>13.4f}")
    return "\n".join(lines)
