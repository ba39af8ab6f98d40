"""The README and docs/ stay true to the code: every command a user can copy names flags and
settings that exist, every relative link resolves, the loop shown in docs/architecture.md is
the trainer's, docs/settings.md is what paddle_gan.reference generates, the README stays short,
and the worked plugin of docs/extending.md runs."""
import dataclasses
import importlib
import re
import shlex

import pytest

from paddle_gan.cli import COMMANDS
from paddle_gan.cli import train as train_command
from paddle_gan.config import Settings, parse_set
from paddle_gan.registry import PLUGINS
from tests.helpers import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", REPO_ROOT / "CONTRIBUTING.md",
         *sorted((REPO_ROOT / "docs").glob("*.md"))]
SCRIPTS = {"gan_trainer": "train", "generate": "generate", "export": "export",
           "evaluate": "evaluate", "sweep": "sweep", "benchmark": "benchmark",
           "train_classifier": "train-classifier"}
COMMAND = re.compile(r"(?:paddle-gan|python -m paddle_gan|python tools/(\w+)\.py)( [^`\n]*)")


def commands(text: str):
    """(subcommand, argument words) of every command written in `text`, code blocks and inline
    code alike; a block's lines continued with a backslash are one command."""
    text = text.replace("\\\n", " ")
    for match in COMMAND.finditer(text):
        script, rest = match.group(1), match.group(2).split("#")[0]
        try:
            words = shlex.split(rest)
        except ValueError:  # an unbalanced quote in prose
            continue
        if script:
            if script in SCRIPTS:
                yield SCRIPTS[script], words
        elif words and words[0] in COMMANDS:
            yield words[0], words[1:]


def known_setting(dotted: str) -> bool:
    """Is `a.b.c` a setting (or a plugin's option)?"""
    parts = dotted.split(".")
    if parts[0] == "plugin_options":
        if parts[1:2] == ["early_stop"]:
            return True  # the worked example of docs/extending.md: a user's plugin
        if len(parts) != 3 or parts[1] not in PLUGINS.names():
            return False
        return parts[2] in {f.name for f in dataclasses.fields(PLUGINS.get(parts[1]).Options)}
    if parts[0] == "storage_options":
        return True  # fsspec's own options, passed on as they are
    cls = Settings
    for part in parts:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            return False
        default = fields[part].default_factory if fields[part].default_factory is not \
            dataclasses.MISSING else None
        cls = type(default()) if default else None
        if part in ("optimizer_d", "optimizer_g"):
            cls = type(Settings().optimizer)
        if cls is None or not dataclasses.is_dataclass(cls):
            return part == parts[-1]
    return True


ALL_COMMANDS = [(page.relative_to(REPO_ROOT), command, words)
                for page in PAGES for command, words in commands(page.read_text())]


def test_the_pages_show_every_command():
    shown = {command for _, command, _ in ALL_COMMANDS}
    assert shown == set(COMMANDS), set(COMMANDS) - shown


@pytest.mark.parametrize("page, command, words", ALL_COMMANDS,
                         ids=[f"{p}:{c} {' '.join(w)[:40]}" for p, c, w in ALL_COMMANDS])
def test_every_flag_and_setting_a_page_shows_exists(page, command, words):
    module = importlib.import_module(f"paddle_gan.cli.{COMMANDS[command][0]}")
    parser = module.build_parser()
    flags = {option for action in parser._actions for option in action.option_strings}
    for i, word in enumerate(words):
        if word.startswith("--") and word not in ("--help",):
            assert word.split("=")[0] in flags, f"{page}: {command} has no {word}"
        if command == "train" and i and words[i - 1] == "--set" and "=" in word:
            key = word.split("=", 1)[0]
            assert known_setting(key), f"{page}: no setting {key}"
            parse_set(word)


def test_every_relative_link_resolves():
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    for page in PAGES:
        for target in link.findall(page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_the_readme_stays_a_front_page():
    assert len((REPO_ROOT / "README.md").read_text().splitlines()) <= 200


def test_the_loop_in_the_architecture_page_is_the_trainers():
    text = (REPO_ROOT / "docs" / "architecture.md").read_text()
    shown = text.split("reads as\nthe list of its parts")[1].split("```python\n")[1].split("```")[0]
    trainer = {line.strip() for line in (REPO_ROOT / "paddle_gan" / "trainer.py").read_text()
               .splitlines()}
    for line in filter(None, map(str.strip, shown.splitlines())):
        assert line in trainer, line


def test_the_settings_reference_is_generated_from_the_settings():
    from paddle_gan.reference import markdown

    assert (REPO_ROOT / "docs" / "settings.md").read_text() == markdown(), (
        "regenerate: python -c \"from paddle_gan.reference import markdown; "
        "print(markdown(), end='')\" > docs/settings.md")


def test_the_reference_reads_each_settings_comment():
    from paddle_gan.reference import field_comments

    comments = field_comments(Settings)
    assert comments["packing"].startswith("PacGAN: D judges this many samples at once")
    assert comments["data_dir"].startswith("default: data/<data>_data")


def test_the_worked_plugin_of_the_extending_page_stops_a_run(tmp_path, capsys):
    text = (REPO_ROOT / "docs" / "extending.md").read_text()
    source = text.split("# my_package/early_stop.py\n")[1].split("```")[0]
    namespace = {}
    exec(compile(source, "docs/extending.md", "exec"), namespace)
    if "early_stop" not in PLUGINS.names():
        PLUGINS.register("early_stop")(namespace["EarlyStop"])
    out = tmp_path / "run"
    code = train_command.main([  # one wide mode: met after the first pass
        "-d", "ring", "--num_passes", "3", "--iters_per_pass", "5", "--batch_size", "32",
        "--set", "data_size=2048", "--set", "ring.modes=1", "--set", "ring.sigma=2.0",
        "--output_dir", str(out),
        "--set", "plugins=[metrics, checkpoint, early_stop]",
        "--set", "plugin_options.metrics.n_samples=200",
        "--set", "plugin_options.early_stop.high_quality=0.9"])
    assert code == 0
    from paddle_gan.checkpoint.files import list_checkpoints, load_checkpoint

    (only,) = list_checkpoints(out / "checkpoints")  # the end of pass 0, and nothing after
    assert load_checkpoint(only)[1]["saved_at"]["global_step"] == 5
    assert "pass 1" not in (out / "train.log").read_text()


def test_the_worked_data_source_of_the_extending_page_loads():
    text = (REPO_ROOT / "docs" / "extending.md").read_text()
    namespace = {}
    exec(compile(text.split("# my_package/spiral.py\n")[1].split("```")[0], "docs/extending.md",
                 "exec"), namespace)
    data = namespace["load"](Settings(data_size=300, seed=2))
    assert data.samples.shape == (300, 2) and data.samples.dtype.name == "float32"
    assert data.labels is None and abs(data.samples).max() < 1.2
