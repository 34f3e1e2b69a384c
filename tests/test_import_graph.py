"""The modules of src/ import one another one way: no import cycle, counting every import
statement (inside functions and ``if TYPE_CHECKING:`` too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Imports that close a loop elsewhere, each its owner's to remove; the rest must have none.
KNOWN_EDGES = {
    # BeforeEvent's decision builders look up their command's rules, and the command registry
    # names the event models: the protocol's events and commands keep one loop between them.
    ("timhooks.protocol.events.base", "timhooks.protocol.commands"),
}


def modules() -> dict[str, Path]:
    """Every module of src/ by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The modules of src/ that ``name``'s file imports anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from a import b` imports the module a.b when there is one, else a.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_src() -> None:
    """No two modules of src/ import each other, directly or around a loop."""
    known = modules()
    graph = {name: set(imported(name, path, known)) for name, path in known.items()}
    assert "timhooks.server.config" in graph["timhooks.cli.serve"]  # the walk sees imports
    for source, target in KNOWN_EDGES:
        graph[source].discard(target)
    assert cycles(graph) == []


def test_src_sends_without_httpx() -> None:
    """The sender and every tool use timhooks' own HTTP pool (``timhooks.delivery.http``):
    httpx is the tests' and benchmarks' client only (pyproject's test extra)."""
    users = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            users += [str(path) for n in names if n.split(".")[0] == "httpx"]
    assert users == []
