"""The import rules of the layers, read from the modules' own import statements, so a change that
breaks one fails here: no import cycle inside paddle_gan, not even through the imports a type
checker follows (`if TYPE_CHECKING:`): such a circle is a module that cannot be read, tested or
type-checked without the other; the core (networks, step, scheduler, state, data, metrics,
checkpoints, ...) never imports the plugins, the run or the command line; plugins never import
the run or the command line; only `cli` parses argv; nothing imports the tools; and importing the
command line does not import Paddle (which reads its thread settings once, at import, so they
must be set first). For the layer rules, imports under `if TYPE_CHECKING:` are annotations only
and do not count."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "paddle_gan"
ABOVE_CORE = ("paddle_gan.plugins", "paddle_gan.run", "paddle_gan.cli", "paddle_gan.benchmark",
              "paddle_gan.sweep", "paddle_gan.__main__")
# Modules that make a run out of parts and may import everything.
ASSEMBLY = ("paddle_gan.run", "paddle_gan.cli", "paddle_gan.plugins", "paddle_gan.benchmark",
            "paddle_gan.sweep", "paddle_gan.__main__")


def under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(name: str, annotations: bool = False):
    """(imported module, at module level?) for every runtime import statement of `name` (and with
    `annotations`, every import under `if TYPE_CHECKING:` too)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, top_level: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child) and not annotations:
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, top_level) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                found.append((base, top_level))
                found.extend((f"{base}.{alias.name}", top_level) for alias in child.names
                             if f"{base}.{alias.name}" in MODULES)
            inner = top_level and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, inner)

    visit(ast.parse(path.read_text()), True)
    return found


def internal_targets(name: str, top_level_only: bool = False, annotations: bool = False):
    """The paddle_gan modules `name` imports, with the packages importing them executes."""
    targets = set()
    for imported, top in imports(name, annotations):
        if top_level_only and not top:
            continue
        parts = imported.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in MODULES and prefix != "paddle_gan":
                targets.add(prefix)
    targets.discard(name)
    return targets


def test_the_module_map_is_complete():
    assert {"paddle_gan.trainer", "paddle_gan.checkpoint", "paddle_gan.checkpoint.files",
            "paddle_gan.plugins.base", "paddle_gan.registry"} <= MODULES.keys()


def find_cycle(graph: dict):
    """One import cycle as [a, b, ..., a], or None (depth-first search for a back edge)."""
    done, path = set(), []

    def visit(node):
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    return next(filter(None, map(visit, sorted(graph))), None)


def test_no_import_cycle_not_even_through_type_checking_imports():
    cycle = find_cycle({name: internal_targets(name, annotations=True) for name in MODULES})
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_search_finds_the_circle_this_package_once_had():
    """state.py typed its checkpointer with checkpoint's class, which imports the state."""
    # state.py names the networks' class for its type hints only
    assert "paddle_gan.networks" in internal_targets("paddle_gan.state", annotations=True)
    assert "paddle_gan.networks" not in internal_targets("paddle_gan.state")
    graph = {name: internal_targets(name, annotations=True) for name in MODULES}
    graph["paddle_gan.state"] = graph["paddle_gan.state"] | {"paddle_gan.checkpoint"}
    cycle = find_cycle(graph)
    assert cycle and {"paddle_gan.state", "paddle_gan.checkpoint"} <= set(cycle)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not under(n, ASSEMBLY)))
def test_the_core_never_imports_plugins_the_run_or_the_cli(name):
    above = sorted(t for t in internal_targets(name) if under(t, ABOVE_CORE))
    assert not above, f"{name} imports {above}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if under(n, ["paddle_gan.plugins"])))
def test_plugins_never_import_the_run_or_the_cli(name):
    above = sorted(t for t in internal_targets(name)
                   if under(t, ["paddle_gan.run", "paddle_gan.cli", "paddle_gan.trainer"]))
    assert not above, f"{name} imports {above}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_cli_parses_argv_and_nothing_imports_the_tools(name):
    source = MODULES[name].read_text()
    modules = {imported.split(".")[0] for imported, _ in imports(name)}
    assert "tools" not in modules
    if not under(name, ["paddle_gan.cli"]):
        assert "argparse" not in modules and "sys.argv" not in source, name


def test_importing_the_cli_does_not_import_paddle():
    # the command and each subcommand's module (the ranks worker is a program of its own)
    seen, todo = set(), [n for n in MODULES if under(n, ["paddle_gan.cli"])
                         and n != "paddle_gan.cli.benchmark_ranks"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        external = {imported.split(".")[0] for imported, top in imports(name) if top}
        assert "paddle" not in external, f"{name} imports paddle at import time"
        todo.extend(internal_targets(name, top_level_only=True))
    assert "paddle_gan.config" in seen and "paddle_gan.registry" in seen
