"""Every tool's --help: describes every argument, and prints nothing else (no Paddle start-up
warnings: --help does not even import Paddle)."""
import subprocess
import sys

import pytest

from paddle_gan.cli import build_parser
from paddle_gan.config import REPO_ROOT
from tests.helpers import load_tool

TOOLS = ["gan_trainer", "generate", "export", "evaluate", "benchmark", "train_classifier", "sweep"]


def parser_of(tool):
    return build_parser() if tool == "gan_trainer" else load_tool(tool).build_parser()


@pytest.mark.parametrize("tool", TOOLS)
def test_help_describes_every_argument(tool):
    undescribed = [action.dest for action in parser_of(tool)._actions
                   if not (action.help or "").strip()]
    assert undescribed == []


def test_help_prints_only_the_help_and_imports_no_paddle():
    # One interpreter for all of them: each --help in a subprocess would take seconds.
    script = (
        "import runpy, sys, contextlib, io\n"
        f"for tool in {TOOLS!r}:\n"
        "    sys.argv = [tool, '--help']\n"
        "    out, err = io.StringIO(), io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        "        try:\n"
        f"            runpy.run_path(f'{REPO_ROOT}/tools/{{tool}}.py', run_name='__main__')\n"
        "        except SystemExit as stop:\n"
        "            assert stop.code == 0, (tool, stop.code)\n"
        "    assert out.getvalue().startswith('usage:'), tool\n"
        "    assert err.getvalue() == '', (tool, err.getvalue())\n"
        "assert 'paddle' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr[-2000:]
    assert result.stderr == ""
