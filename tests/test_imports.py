"""The package's modules import each other without a circle, counting the imports a type checker
follows (`if TYPE_CHECKING:`) and those inside functions: a circle through any of them is a
module that cannot be read, tested or type-checked without the other."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "paddle_gan"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set, package_dir: Path = PACKAGE) -> set:
    """The package's modules that `path` imports, wherever in the file the import stands."""
    name = module_name(path, package_dir)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level \
                else []
            module = ".".join(base + ([node.module] if node.module else []))
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in modules and target != name}
    return found


def import_graph() -> dict:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(paths)) for name, path in paths.items()}


def find_circle(graph: dict):
    """One import circle as [a, b, ..., a], or None (depth-first search for a back edge)."""
    done, path = set(), []

    def visit(node):
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            circle = visit(target)
            if circle:
                return circle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        circle = visit(node)
        if circle:
            return circle
    return None


def test_no_module_of_the_package_imports_itself_through_others():
    circle = find_circle(import_graph())
    assert circle is None, " -> ".join(circle)


def test_the_search_finds_the_circle_this_package_once_had():
    """state.py typed its checkpointer with checkpoint's class, which imports the state."""
    graph = import_graph()
    graph["paddle_gan.state"] = graph["paddle_gan.state"] | {"paddle_gan.checkpoint"}
    circle = find_circle(graph)
    assert circle and "paddle_gan.state" in circle and "paddle_gan.checkpoint" in circle


def test_type_checking_imports_are_counted(tmp_path):
    module = tmp_path / "paddle_gan" / "a.py"
    module.parent.mkdir()
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n")
    modules = {"paddle_gan.a", "paddle_gan.b"}
    assert imports_of(module, modules, module.parent) == {"paddle_gan.b"}
