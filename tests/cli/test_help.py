"""The `paddle-gan` command: `--help` lists every subcommand; each subcommand's --help (and each
tools/ shim's) describes every argument and prints nothing else (no Paddle start-up warnings:
--help does not even import Paddle); an unknown subcommand is one line and exit 2."""
import importlib
import subprocess
import sys

import pytest

from paddle_gan.cli import COMMANDS, main
from tests.helpers import REPO_ROOT

SHIMS = {"gan_trainer": "train", "generate": "generate", "export": "export",
         "evaluate": "evaluate", "sweep": "sweep", "benchmark": "benchmark",
         "train_classifier": "train-classifier"}


def module_of(command):
    return importlib.import_module(f"paddle_gan.cli.{COMMANDS[command][0]}")


def test_the_command_lists_every_subcommand_and_each_tool_is_one(capsys):
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert all(f"  {name} " in listed for name in COMMANDS)
    assert sorted(SHIMS.values()) == sorted(COMMANDS)  # a tools/ script for every command
    assert {p.stem for p in (REPO_ROOT / "tools").glob("*.py")} == set(SHIMS) | {
        "benchmark_plain", "benchmark_torch"}  # and the benchmark's baselines


def test_an_unknown_command_is_one_line_and_exit_2(capsys):
    assert main(["trian"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown command 'trian'" in err[0] and "'train'" in err[0]
    assert main([]) == 2


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_describes_every_argument(command):
    undescribed = [action.dest for action in module_of(command).build_parser()._actions
                   if not (action.help or "").strip()]
    assert undescribed == []


def test_help_prints_only_the_help_and_imports_no_paddle():
    # One interpreter for all of them: each --help in a subprocess would take seconds.
    script = (
        "import runpy, sys, contextlib, io\n"
        "from paddle_gan.cli import main\n"
        f"for tool, command in {SHIMS!r}.items():\n"
        "    for run in (lambda: main([command, '--help']),\n"
        f"                lambda: runpy.run_path(f'{REPO_ROOT}/tools/{{tool}}.py',\n"
        "                                       run_name='__main__')):\n"
        "        sys.argv = [tool, '--help']\n"
        "        out, err = io.StringIO(), io.StringIO()\n"
        "        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        "            try:\n"
        "                run()\n"
        "            except SystemExit as stop:\n"
        "                assert stop.code == 0, (tool, stop.code)\n"
        "        assert out.getvalue().startswith('usage:'), tool\n"
        "        assert err.getvalue() == '', (tool, err.getvalue())\n"
        "assert 'paddle' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr[-2000:]
    assert result.stderr == ""


def test_python_dash_m_is_the_command():
    result = subprocess.run([sys.executable, "-m", "paddle_gan", "--version"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("paddle-gan ")
