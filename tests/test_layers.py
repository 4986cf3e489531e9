"""The package's modules import one way: down the layers below, never up, never in a cycle.

Every import counts, including those inside functions (a late import is still a dependency).
A new module must be given a layer here: the failure says which one is missing.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pipelines import REPO_ROOT

PACKAGE = REPO_ROOT / "pipelines"

# lowest first; a module may import its own layer and those before it. A subpackage's name stands
# for everything under it (`pipelines.sources` is every source and its helpers).
LAYERS: list[tuple[str, ...]] = [
    ("pipelines", "pipelines.sql", "pipelines.redact", "pipelines.postgres"),
    ("pipelines.warehouse", "pipelines.output", "pipelines.runlog", "pipelines.rejected", "pipelines.evaluation",
     "pipelines.dlt_state"),
    ("pipelines.sources",),
    ("pipelines.runner", "pipelines.nationbuilder_auth"),
    ("pipelines.status", "pipelines.report", "pipelines.schedule"),
    ("pipelines.summary", "pipelines.sqlshell"),
    ("pipelines.cli", "pipelines.__main__"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules `name` imports, wherever in the file the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from pipelines import output` imports the module pipelines.output
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return {target for target in found if target in known and target != name}


def layer(name: str) -> int | None:
    for index, members in enumerate(LAYERS):
        # the package itself holds only its root: every other module needs a layer of its own
        if any(name == member or (member != "pipelines" and name.startswith(member + ".")) for member in members):
            return index
    return None


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    undeclared = [name for name in modules() if layer(name) is None]
    assert not undeclared, f"give these modules a layer in tests/test_layers.py LAYERS: {undeclared}"


def test_no_import_goes_up_a_layer():
    upward = [f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
              for source, targets in graph().items() for target in sorted(targets)
              if layer(source) is not None and layer(target) is not None and layer(target) > layer(source)]
    assert not upward, "imports must go down the layers:\n" + "\n".join(upward)


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, f"import cycles: {found}"


def test_the_walk_sees_late_and_relative_imports(tmp_path):
    """The checks above are only as good as the walk: an import inside a function counts."""
    module = tmp_path / "pipelines" / "late.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from pipelines.cli import main\n    from . import runner\n")
    assert imported("pipelines.late", module, {"pipelines.cli", "pipelines.runner"}) == \
        {"pipelines.cli", "pipelines.runner"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
