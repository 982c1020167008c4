"""The shape of the package: layers point one way, no import cycles, typed ports.

Read from the source text (``ast``), so these hold for every import, including the ones
made inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import skyhaul

PACKAGE = Path(skyhaul.__file__).parent
#: Layer of each top-level part, outermost first; a layer imports only layers below it.
LAYERS = {
    "cli": 4,
    "client": 4,
    "demo": 4,
    "mast": 4,
    "web": 4,
    "worker": 4,
    "services": 3,
    "adapters": 2,
    "ports": 1,
    "core": 0,
    "errors": 0,
    "version": 0,
}
#: Parts outside the layering: the simulator is a separate server, ``__init__`` the API.
OUTSIDE = {"sim", "__init__", "py"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = ["skyhaul", *relative.parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every skyhaul module ``name`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("skyhaul"):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                if not is_package:
                    anchor.pop()
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("skyhaul"):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in MODULES else base


GRAPH = {name: sorted(set(_imports(name, path)) - {name}) for name, path in MODULES.items()}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top in OUTSIDE:
        return None
    return LAYERS[top]


def test_every_part_has_a_layer() -> None:
    tops = {m.split(".")[1] for m in MODULES if "." in m}
    assert tops <= set(LAYERS) | OUTSIDE


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str) -> None:
    mine = _layer(module)
    if mine is None:
        return
    upward = [
        other for other in GRAPH[module] if (theirs := _layer(other)) is not None and theirs > mine
    ]
    assert not upward, f"{module} imports from a layer above it: {upward}"


def test_there_is_no_import_cycle() -> None:
    # Tarjan's strongly connected components: a cycle is a component of two or more.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH.get(node, []):
            if nxt not in MODULES:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    assert cycles == []


def _service_parameters() -> Iterator[tuple[str, str, ast.arg]]:
    for name, path in MODULES.items():
        if not name.startswith("skyhaul.services"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                arguments = node.args
                for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                    yield name, node.name, arg


def test_no_service_parameter_is_typed_any() -> None:
    loose = [
        f"{module}.{function}({arg.arg})"
        for module, function, arg in _service_parameters()
        if arg.annotation is not None and ast.unparse(arg.annotation) in ("Any", "Any | None")
    ]
    assert loose == []


def test_no_service_calls_a_method_by_name() -> None:
    # Ports are called by their typed methods; ``getattr(catalog, name)`` hides a call
    # from mypy (a rename would fail at run time).
    by_name = []
    for name, path in MODULES.items():
        if not name.startswith("skyhaul.services"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and not isinstance(node.args[1], ast.Constant)
            ):
                by_name.append(f"{name}:{node.lineno}")
    assert by_name == []


def test_the_graph_is_read() -> None:
    # The tests above would pass on an empty graph: make sure it is the real one.
    assert "skyhaul.services.engine" in GRAPH["skyhaul.services.acquire"]
    assert "skyhaul.ports.catalog" in GRAPH["skyhaul.services.engine"]
