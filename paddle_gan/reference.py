"""The settings reference (docs/settings.md), generated from the settings classes themselves.

Every setting of `config.Settings` (dotted for the nested sections) and every plugin's option,
with its type, default, allowed values and the comment written beside it in the source: the
dataclasses are the one place a setting is defined, so the reference cannot drift from them
(tests/test_docs.py compares the file with `markdown()`). Regenerate it with
`python -c "from paddle_gan.reference import markdown; print(markdown(), end='')"
> docs/settings.md`.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import tokenize
from typing import Dict, List, get_type_hints

from .config import Settings
from .registry import PLUGINS

HEADER = """# Settings reference

Generated from the settings classes (`paddle_gan/config.py`, each plugin's `Options`) by
`paddle_gan/reference.py`; do not edit by hand. A setting is given, lowest precedence first, by
its dataclass default, the conf module's `DEFAULTS`, the YAML run config, `--set key=value`
(dotted names, as below) and the named flags (`paddle-gan train --help`). An unknown key, a
wrong type or a value out of range is exit 2 with one line.
"""


def field_comments(cls) -> Dict[str, str]:
    """The comment of each field of `cls` as written in its source: the comment lines right above
    the field and the comment at the end of its line."""
    comments: Dict[str, str] = {}
    above: List[str] = []
    lines = inspect.getsource(cls).splitlines()
    body = len(lines[0]) - len(lines[0].lstrip()) + 4  # a nested class is indented already
    for line in lines:
        stripped, indent = line.strip(), len(line) - len(line.lstrip())
        if indent != body:  # the class line, a docstring's or a definition's continuation
            continue
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        name, colon, _ = stripped.partition(":")
        if colon and name.isidentifier():
            comments[name] = " ".join(above + [_trailing_comment(line)]).strip()
        above = []
    return comments


def _trailing_comment(line: str) -> str:
    """The comment ending a line of code ('' if none; a line that opens a bracket it does not
    close has its comment elsewhere, if anywhere)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, SyntaxError):
        return ""
    return next((t.string.lstrip("#").strip() for t in tokens if t.type == tokenize.COMMENT), "")


def _type_name(hint) -> str:
    """int, float, str, bool, a section, a list, a mapping; `or null` where None is allowed."""
    args = [a for a in getattr(hint, "__args__", ()) if a is not type(None)]
    origin = getattr(hint, "__origin__", None)
    if origin in (list, List):
        return f"list of {_type_name(args[0])}"
    if origin in (dict, Dict):
        return "mapping"
    if args and len(args) < len(hint.__args__):  # Optional[X]
        return f"{_type_name(args[0])} or null"
    if args:  # Union[int, str]: a number or a word
        return " or ".join(map(_type_name, args))
    return "section" if dataclasses.is_dataclass(hint) else hint.__name__


def _allowed(meta: dict) -> str:
    if "choices" in meta:
        return " \\| ".join(map(str, meta["choices"]))
    if "registry" in meta:
        return " \\| ".join(meta["registry"].builtin_names())
    if "min" in meta or "max" in meta:
        words = " or " + " or ".join(meta["words"]) if "words" in meta else ""
        return f"{meta.get('min', '')} to {meta.get('max', '')}{words}"
    return ""


def _default(field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return ""
    if dataclasses.is_dataclass(value):
        return ""
    return "`" + repr(value).replace("|", "\\|") + "`"


def rows(cls, prefix: str = "") -> List[str]:
    """Table rows of the fields of `cls` (a section's fields after its own row)."""
    hints, comments, out = get_type_hints(cls), field_comments(cls), []
    for field in dataclasses.fields(cls):
        hint, name = hints[field.name], prefix + field.name
        comment = comments.get(field.name, "").replace("|", "\\|")
        out.append(f"| `{name}` | {_type_name(hint)} | {_default(field)} | "
                   f"{_allowed(dict(field.metadata))} | {comment} |")
        inner = hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None
        if inner is not None:
            if inner.__doc__ and not inner.__doc__.startswith(inner.__name__ + "("):
                note = " ".join(inner.__doc__.split()).replace("|", "\\|")
                out[-1] = out[-1][:-2] + (" " if comment else "") + note + " |"
            out += rows(inner, name + ".")
    return out


TABLE_HEAD = ["| setting | type | default | allowed | what |", "| --- | --- | --- | --- | --- |"]


def markdown() -> str:
    lines = [HEADER, "## Settings", "", *TABLE_HEAD, *rows(Settings), ""]
    lines += ["## Plugin options", "",
              "Each under `plugin_options.<plugin>.<option>` (`--set "
              "plugin_options.console.every_n_iters=50`); checked whether or not the plugin is in "
              "`plugins`.", ""]
    for name in PLUGINS.builtin_names():
        plugin = PLUGINS.get(name)
        doc = " ".join((inspect.getmodule(plugin).__doc__ or "").split("\n\n")[0].split())
        lines += [f"### `{name}`", "", doc, "", *TABLE_HEAD,
                  *rows(plugin.Options, f"plugin_options.{name}."), ""]
    return "\n".join(lines)
