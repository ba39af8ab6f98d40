"""A grid of training runs, each its own `paddle-gan train` process, and their summary.

Every combination of the grid's values is a cell, trained by its own process (`-d` for the
`data` axis, `--set` for every other setting, `--output_dir` a folder per cell), `jobs` of them
at once. A cell is finished when its trainer ended with exit code 0 (or 3: diverged, a result
too) and the sweep wrote `sweep-cell.json` into its folder with the cell's final metrics line;
finished cells are skipped, so running the same command again continues a stopped sweep (cells
stopped half-way resume from their newest checkpoint). At the end it writes `results.md` (per
setting, the mean and standard deviation over the seeds of every metric, then every cell) and
`samples.png` (the final samples of each setting's first seed). The sweep folder records its
grid in `sweep.json`; another sweep is refused there.

A sweep file holds `grid` (setting -> list of values; any dotted setting, `data` included),
`set` (settings every cell shares), and optionally `metrics` (the table's columns) and
`output_dir`. The command line (`paddle_gan.cli.sweep`) adds axes and settings to it.
"""
from __future__ import annotations

import itertools
import json
import math
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from .config import dotted
from .errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from .metrics.two_d import TrueDistribution

FORMAT = "paddle_gan.sweep/1"
SPEC_KEYS = ("grid", "set", "metrics", "output_dir")
RECORD, DONE, LOG = "sweep.json", "sweep-cell.json", "sweep.log"
SEED_AXIS = "seed"  # the axis a setting's mean and spread are taken over
MAX_COLUMNS = 6  # tiles a row in samples.png


class BadSweep(UsageError):
    """Bad input: one line, exit 2."""


# --- the sweep's specification -----------------------------------------------------------------

def _is_scalar(value) -> bool:
    return isinstance(value, (str, int, float, bool))


def read_spec(sweep_file: Optional[str] = None, axes: Sequence[str] = (), sets: Sequence[str] = (),
              metric_names: Optional[str] = None, output_dir: Optional[str] = None) -> dict:
    """{"grid": {axis: [values]}, "set": {key: value}, "metrics": [..] or None, "output_dir"}
    from the sweep file and the command line's `--grid KEY=V1,V2`, `--set KEY=VALUE`,
    `--metrics A,B` and `--output_dir` (which win)."""
    from .config import parse_set, read_yaml
    from .errors import ConfigError

    raw, where = {}, "the command line"
    if sweep_file:
        where = sweep_file
        try:
            raw = read_yaml(Path(sweep_file))
        except ConfigError as err:
            raise BadSweep(str(err)) from None
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise BadSweep(f"{where}: unknown key '{unknown[0]}' (a sweep file holds "
                       f"{', '.join(SPEC_KEYS)})")
    grid, fixed = raw.get("grid") or {}, raw.get("set") or {}
    if not isinstance(grid, dict) or not isinstance(fixed, dict):
        raise BadSweep(f"{where}: grid and set must be mappings of settings")
    grid = dotted(grid)
    for item in axes:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise BadSweep(f"--grid takes KEY=V1,V2, got {item!r}")
        grid[key] = [dotted(parse_set(f"v={text}"))["v"] for text in values.split(",")]
    for key, values in grid.items():
        if not isinstance(values, list) or not values or not all(map(_is_scalar, values)):
            raise BadSweep(f"{where}: grid axis '{key}' must be a non-empty list of values, got "
                           f"{values!r:.80}")
        if len(set(map(repr, values))) != len(values):
            raise BadSweep(f"{where}: grid axis '{key}' repeats a value")
    fixed = dotted(fixed)
    for item in sets:
        try:
            fixed.update(dotted(parse_set(item)))
        except ConfigError as err:
            raise BadSweep(str(err)) from None
    both = sorted(grid.keys() & fixed.keys())
    if both:
        raise BadSweep(f"'{both[0]}' is both a grid axis and a shared setting")
    if "data" not in grid and "data" not in fixed:
        raise BadSweep(f"{where}: say which data: a grid axis or a shared setting 'data'")
    metrics = raw.get("metrics")
    if metric_names:
        metrics = metric_names.split(",")
    if metrics is not None:
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise BadSweep(f"{where}: metrics must be a list of metric names")
        check_metrics(metrics)
    stem = Path(sweep_file).stem if sweep_file else "sweep"
    output_dir = output_dir or raw.get("output_dir") or f"output/sweeps/{stem}"
    if not isinstance(output_dir, str):
        raise BadSweep(f"{where}: output_dir must be a folder name")
    return {"grid": grid, "set": fixed, "metrics": metrics, "output_dir": Path(output_dir)}


def check_metrics(names) -> None:
    from .metrics.evaluator import METRICS

    for name in names:
        if name not in METRICS:
            raise BadSweep(f"unknown metric '{name}'; known: {', '.join(METRICS)}")


def _text(value) -> str:
    """A value as the trainer's --set reads it back (YAML)."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix(
        "\n...").strip()


def cell_name(values: dict) -> str:
    """`data=ring,scheduler.name=alternate,seed=1`, safe as a folder name."""
    name = ",".join(f"{key}={_text(value)}" for key, value in values.items())
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", name)[:200] or "cell"


def make_cells(spec: dict) -> list:
    """Every combination of the grid: [{"values", "name", "dir", "data", "sets", "passes"}],
    each validated by resolving its settings as the trainer will."""
    from .config import resolve_settings
    from .errors import ConfigError

    axes = list(spec["grid"])
    cells, names = [], set()
    for combo in itertools.product(*spec["grid"].values()):
        values = dict(zip(axes, combo))
        settings = {**spec["set"], **values}
        name = cell_name(values)
        if name in names:
            raise BadSweep(f"two cells share the folder name {name}; make the values differ in "
                           "letters or digits")
        names.add(name)
        sets = [f"{key}={_text(value)}" for key, value in settings.items() if key != "data"]
        folder = spec["output_dir"] / "cells" / name
        try:
            resolved = resolve_settings(None, sets, {"output_dir": str(folder)},
                                        str(settings["data"]))
            check_combination(resolved)
        except ConfigError as err:
            raise BadSweep(f"cell {name}: {err}") from None
        cells.append({"values": values, "name": name, "dir": folder,
                      "data": str(settings["data"]), "sets": sets,
                      "passes": resolved.num_passes})
    return cells


def check_combination(settings) -> None:
    """What the trainer refuses before it trains, beyond each setting's own range: a loss's
    options (R1 and label smoothing only for the logistic losses), the scheduler it can have."""
    from .registry import LOSSES
    from .run import check_scheduler_fits

    check_scheduler_fits(settings, LOSSES.get(settings.loss.name)(settings.loss))


def claim_folder(spec: dict) -> None:
    """Refuse a folder holding another sweep (or anything else); record this one's grid."""
    from . import storage

    out = spec["output_dir"]
    record = {"format": FORMAT, "grid": spec["grid"], "set": spec["set"]}
    path = out / RECORD
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise BadSweep(f"{path} is unreadable ({type(err).__name__}); use another "
                           "--output_dir") from None
        if saved != json.loads(json.dumps(record)):
            raise BadSweep(f"{out} holds another sweep (its grid and settings are in {path}); "
                           "use another --output_dir, or that sweep's own file")
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadSweep(f"{out} is not a sweep folder (no {RECORD}) and not empty; use another "
                       "--output_dir")
    storage.make_folder(out, "the sweep folder")
    storage.write_bytes(path, (json.dumps(record, indent=2) + "\n").encode(), "the sweep record")


# --- running the cells -------------------------------------------------------------------------

def finished(cell: dict):
    """The cell's record when it finished, else None."""
    try:
        return json.loads((cell["dir"] / DONE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def last_metrics(folder: Path):
    """The last line of the cell's metrics.jsonl (its final pass), or None."""
    try:
        lines = (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def start(cell: dict, env: dict):
    from . import storage
    from .checkpoint.files import list_checkpoints

    folder = storage.make_folder(cell["dir"], "a cell's folder")
    command = [sys.executable, "-m", "paddle_gan", "train", "-d", cell["data"],
               "--output_dir", str(folder)]
    for item in cell["sets"]:
        command += ["--set", item]
    if (folder / "checkpoints").is_dir() and list_checkpoints(folder / "checkpoints"):
        command += ["--resume", "auto"]  # stopped half-way: continue where it stopped
    with open(folder / LOG, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)


def last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def summary(metrics) -> str:
    from .metrics.evaluator import one_line

    return one_line({**metrics, "real": None}) if metrics else "no metrics"


def run_cells(cells: list, jobs: int, env: dict) -> int:
    """Train the unfinished cells, `jobs` at once; the exit code of the sweep so far."""
    from . import storage

    todo = [cell for cell in cells if finished(cell) is None]
    print(f"{len(cells)} cells, {len(cells) - len(todo)} finished already, {len(todo)} to train "
          f"({jobs} at once)", flush=True)
    running: Dict[subprocess.Popen, Tuple[dict, float]] = {}  # process -> (cell, its start)
    failed, done = 0, len(cells) - len(todo)

    def terminate(signum, frame):
        raise InterruptedError(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        while todo or running:
            while todo and len(running) < jobs:
                cell = todo.pop(0)
                running[start(cell, env)] = (cell, time.monotonic())
            time.sleep(0.2)
            for process, (cell, began) in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[process]
                seconds = time.monotonic() - began
                if code in (0, 3):
                    # a diverged run's last line is of an earlier pass: no final metrics
                    metrics = last_metrics(cell["dir"]) if code == 0 else None
                    record = {"cell": cell["values"], "exit_code": code, "seconds": seconds,
                              "status": "done" if code == 0 else "diverged", "metrics": metrics}
                    storage.write_bytes(cell["dir"] / DONE, (json.dumps(record) + "\n").encode(),
                                        "a cell's record")
                    done += 1
                    print(f"[{done}/{len(cells)}] {cell['name']}: {record['status']} in "
                          f"{seconds:.0f} s; {summary(metrics)}", flush=True)
                elif code in (130, 143):
                    print(f"{cell['name']}: stopped (exit {code}); it resumes next time",
                          flush=True)
                else:
                    failed += 1
                    print(f"{cell['name']}: failed (exit {code}): "
                          f"{last_line(cell['dir'] / LOG)}", flush=True)
    except (KeyboardInterrupt, InterruptedError) as err:
        # SIGINT reached the cells too (one process group); SIGTERM is passed on. Each cell
        # finishes its step and saves a checkpoint; a second signal stops without waiting.
        stop = "SIGINT" if isinstance(err, KeyboardInterrupt) else "SIGTERM"
        print(f"{stop}: waiting for {len(running)} running cell(s) to save and stop", flush=True)
        try:
            for process in running:
                if stop == "SIGTERM":
                    process.send_signal(signal.SIGTERM)
            for process in running:
                process.wait()
        except (KeyboardInterrupt, InterruptedError):
            pass
        print("sweep stopped; run the same command again to continue", flush=True)
        return 130 if stop == "SIGINT" else 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 1 if failed else 0


# --- the report --------------------------------------------------------------------------------

def _spread(values: list) -> str:
    """Mean ± sample standard deviation of the finite numbers among `values` (None: a metric
    that could not be computed, or does not apply); - when none applies."""
    if all(v is None for v in values):
        return "-"
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return "nan"
    mean = sum(finite) / len(finite)
    text = f"{mean:.3g}"
    if len(finite) > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))
        text += f" ± {sd:.2g}"
    if len(finite) < len(values):
        text += f" ({len(finite)} of {len(values)})"
    return text


def _values(records: list, name: str) -> list:
    """The metric `name` of each record's final metrics, None where it has none."""
    values = [(record.get("metrics") or {}).get(name) for record in records]
    return [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
            for v in values]


def table_columns(spec: dict, records: list) -> list:
    from .metrics.evaluator import HEADLINE, result_kind

    if spec["metrics"]:
        return spec["metrics"]
    kinds = {result_kind(r["metrics"]) for r in records if r.get("metrics")}
    names = [name for kind in ("points", "modes", "images") if kind in kinds
             for name in HEADLINE[kind]]
    return list(dict.fromkeys(names))  # sliced_w1 and ks once


def settings_of(cells: list, grid: dict) -> list:
    """[(values without the seed, [cells])] in grid order: what a table row and a tile show."""
    axes = [axis for axis in grid if axis != SEED_AXIS]
    groups: Dict[tuple, Tuple[dict, list]] = {}
    for cell in cells:
        key = tuple(_text(cell["values"][axis]) for axis in axes)
        groups.setdefault(key, ({a: cell["values"][a] for a in axes}, []))[1].append(cell)
    return list(groups.values())


def write_table(spec: dict, cells: list, path: Path) -> None:
    from . import storage

    records = {cell["name"]: finished(cell) for cell in cells}
    columns = table_columns(spec, [r for r in records.values() if r])
    axes = [axis for axis in spec["grid"] if axis != SEED_AXIS]
    head = [*axes, "seeds", *columns, "time a cell"]
    lines = [f"# Sweep {spec['output_dir']}", "",
             "Mean ± standard deviation over the seeds that finished (a metric that does not "
             "apply to a row's data is -).", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for values, group in settings_of(cells, spec["grid"]):
        done = [records[c["name"]] for c in group if records[c["name"]]]
        diverged = sum(r["status"] == "diverged" for r in done)
        row = [_text(values[a]) for a in axes]
        row.append(f"{len(done)}/{len(group)}" + (f" ({diverged} diverged)" if diverged else ""))
        row += [_spread(_values(done, name)) for name in columns]
        row.append(f"{_spread([r['seconds'] for r in done])} s" if done else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Every cell:", "", "| cell | status | " + " | ".join(columns) + " | time |",
              "|" + " --- |" * (len(columns) + 3)]
    for cell in cells:
        record = records[cell["name"]]
        if record is None:
            lines.append(f"| {cell['name']} | not finished |" + " |" * (len(columns) + 1))
            continue
        shown = [_spread(_values([record], name)) for name in columns]
        lines.append(f"| {cell['name']} | {record['status']} | " + " | ".join(shown)
                     + f" | {record['seconds']:.0f} s |")
    real: Dict[Optional[str], dict] = {}  # data -> the metrics of its real samples
    for record in filter(None, records.values()):
        metrics = record.get("metrics") or {}
        if metrics.get("real"):
            real.setdefault(metrics.get("data"), metrics["real"])
    if real:
        lines += ["", "The same metrics of real data (the floor):", "",
                  "| data | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
        for data, values in real.items():
            shown = [_spread(_values([{"metrics": values}], name)) for name in columns]
            lines.append(f"| {data} | " + " | ".join(shown) + " |")
    storage.write_bytes(path, ("\n".join(lines) + "\n").encode(), "the sweep's table")


def short_name(axis: str) -> str:
    """`optimizer.learning_rate` -> `learning_rate`, `scheduler.name` -> `scheduler`."""
    parts = axis.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def write_panel(spec: dict, cells: list, path: Path) -> None:
    """The final samples (the run's fixed noise) of each setting's first finished seed."""
    from .checkpoint.reader import open_checkpoint
    from .errors import UsageError
    from .metrics.two_d import true_distribution
    from .networks import generate
    from .render import save_panel

    # (caption, samples, pixel_range, distribution): see render.save_panel
    tiles: List[Tuple[str, Optional[np.ndarray], Optional[tuple], Optional[TrueDistribution]]] = []
    for values, group in settings_of(cells, spec["grid"]):
        caption = " ".join(f"{short_name(axis)}={_text(v)}" for axis, v in values.items())
        done = [(c, finished(c)) for c in group if finished(c)]
        if not done:
            tiles.append((caption + "\nnot finished", None, None, None))
            continue
        cell, record = done[0]
        try:
            loaded = open_checkpoint(cell["dir"], use_gpu=False)
        except UsageError:
            tiles.append((caption + "\nno checkpoint", None, None, None))
            continue
        seed = cell["values"].get(SEED_AXIS)
        caption += f"\n{'seed ' + str(seed) + ': ' if seed is not None else ''}"
        caption += " ".join(summary(record.get("metrics")).split()[:4])  # two metrics
        assert loaded.generator is not None  # load_generator set it
        samples = generate(loaded.generator, loaded.fixed_noise)
        tiles.append((caption, samples, loaded.pixel_range, true_distribution(
            loaded.data_settings)))
    axes = [axis for axis in spec["grid"] if axis != SEED_AXIS]
    columns = math.prod(len(spec["grid"][a]) for a in axes[1:]) if len(axes) > 1 else len(tiles)
    save_panel(tiles, path, min(columns, MAX_COLUMNS), f"final samples: {spec['output_dir']}")


def run_sweep(spec: dict, jobs: int, child_env: dict, dry_run: bool = False) -> int:
    """Train the sweep's unfinished cells (or with `dry_run` list them), then write its table
    and panel; the exit code (0, 1 a cell failed, 130/143 stopped)."""
    from . import storage

    cells = make_cells(spec)
    if dry_run:
        for cell in cells:
            print(f"{cell['name']}: {'finished' if finished(cell) else 'to train'}")
        return 0
    claim_folder(spec)
    lock = storage.RunLock(spec["output_dir"])
    lock.acquire()
    try:
        code = run_cells(cells, jobs, child_env)
        if code in (130, 143):
            return code
        write_table(spec, cells, spec["output_dir"] / "results.md")
        write_panel(spec, cells, spec["output_dir"] / "samples.png")
        print(f"written: {spec['output_dir'] / 'results.md'}, "
              f"{spec['output_dir'] / 'samples.png'}")
        return code
    finally:
        lock.release()
