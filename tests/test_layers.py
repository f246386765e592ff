"""The layering rules of docs/architecture.md, checked so that a later change cannot quietly
reach upward.

* The sans-IO cores import no I/O at run time: no sockets, no Trio, no threads, no event loops.
* Dependencies point downward only. Read from the source (ast), counting imports under
  ``TYPE_CHECKING`` and inside functions, because a type-only import still ties the modules
  together for a reader and for the next refactoring:
  - nothing below the engines imports :mod:`trioserve.engines`, and nothing below the server
    imports :mod:`trioserve.server`;
  - ``fcgi`` imports nothing from ``trioserve``;
  - no two modules import each other, directly or through others (no import cycles).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("trioserve", "fcgi")

SANS_IO = [
    "fcgi",
    "trioserve.call",
    "trioserve.context",
    "trioserve.cors",
    "trioserve.spec",
    "trioserve.tree",
    "trioserve.policy",
    "trioserve.hierarchy",
    "trioserve.render.json",
    "trioserve.render.introspect",
    "trioserve.auth.digest",
    "trioserve.ws._handshake",
    "trioserve.error_page",
    "trioserve.config",
    "trioserve.gzip_reply",
]
FORBIDDEN = {"socket", "trio", "asyncio", "select", "selectors", "ssl", "anyio"}

#: the only modules that may import the engines or the server: the top of the stack
TOP = (
    "trioserve",
    "trioserve.server",
    "trioserve.threaded",
    "trioserve.cli",
    "trioserve.launch",
    "trioserve.demo",
)

#: the table of docs/architecture.md, top to bottom: a module may import its own row and the
#: rows below it. A name stands for that module and everything under it.
LAYERS: list[tuple[str, ...]] = [
    ("trioserve",),  # the package's lazy re-exports
    ("trioserve.cli", "trioserve.launch", "trioserve.demo", "trioserve.threaded"),
    ("trioserve.server",),
    ("trioserve.engines",),
    ("trioserve.dispatch",),
    ("trioserve.requests",),
    ("trioserve.ui",),
    ("trioserve.ws",),
    ("trioserve.context",),
    ("trioserve.files",),
    ("trioserve.auth",),
    ("trioserve.hierarchy",),
    ("trioserve.render",),
    (
        "trioserve.tree",
        "trioserve.policy",
        "trioserve.appthread",
        "trioserve.parking",
        "trioserve.commands",
        "trioserve.histograms",
        "trioserve.items",
        "trioserve.mime",
        "trioserve.accesslog",
        "trioserve.debugpage",
        "trioserve.error_page",
        "trioserve._cancellation",
    ),
    (
        "trioserve.call",
        "trioserve.spec",
        "trioserve.cors",
        "trioserve.errors",
        "trioserve.config",
        "trioserve.startup",
        "trioserve.gzip_reply",
        "trioserve._version",
    ),
    ("fcgi",),
]


@pytest.mark.parametrize("module", SANS_IO)
def test_module_imports_no_io(module: str) -> None:
    code = (
        "import importlib, json, sys\n"
        f"before = set(sys.modules)\nimportlib.import_module({module!r})\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not (loaded & FORBIDDEN), f"{module} pulls in {sorted(loaded & FORBIDDEN)}"


# -- the import graph, read from the source -------------------------------------------------
def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every project module ``name`` imports, wherever the import statement stands."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    yield f"{source}.{alias.name}"
                elif source in known:
                    yield source


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: set(_imported(name, path, known)) - {name} for name, path in known.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return cycles


def _reaching_up(graph: dict[str, set[str]], target: str) -> dict[str, list[str]]:
    def is_top(module: str) -> bool:
        return module in TOP or module.startswith("trioserve.engines")

    return {
        module: sorted(dep for dep in deps if dep == target or dep.startswith(target + "."))
        for module, deps in graph.items()
        if not is_top(module) and any(dep == target or dep.startswith(target + ".") for dep in deps)
    }


def test_the_graph_sees_type_only_and_local_imports() -> None:
    """The checks below are only as good as the graph: it must see the import kinds that
    caused the old loops (under TYPE_CHECKING, inside functions, relative)."""
    graph = import_graph()
    assert "trioserve.call" in graph["trioserve.dispatch"]
    assert "trioserve.requests" in graph["trioserve.dispatch"]  # imported inside a method
    assert "trioserve.ws._handler" in graph["trioserve.ws"]  # under TYPE_CHECKING only
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("trioserve.engines._http_conn") < layer_of("trioserve.ws._conn")
    assert layer_of("trioserve.ws") < layer_of("trioserve.call") < layer_of("fcgi._records")


def layer_of(module: str) -> int:
    """The row of ``module`` in LAYERS (the most specific name that covers it)."""
    best: tuple[int, int] | None = None
    for row, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > best[1]:
                    best = (row, len(name))
    assert best is not None, f"{module} has no row in LAYERS (and in docs/architecture.md)"
    return best[0]


def test_every_import_points_down_the_table() -> None:
    graph = import_graph()
    upward = {
        module: sorted(dep for dep in deps if layer_of(dep) < layer_of(module))
        for module, deps in graph.items()
    }
    assert {module: deps for module, deps in upward.items() if deps} == {}


def test_nothing_below_the_engines_imports_them() -> None:
    assert _reaching_up(import_graph(), "trioserve.engines") == {}


def test_nothing_below_the_server_imports_it() -> None:
    assert _reaching_up(import_graph(), "trioserve.server") == {}


def test_fcgi_stands_alone() -> None:
    leaks = {
        module: sorted(dep for dep in deps if dep.startswith("trioserve"))
        for module, deps in import_graph().items()
        if module.startswith("fcgi") and any(dep.startswith("trioserve") for dep in deps)
    }
    assert leaks == {}


def test_no_import_cycles() -> None:
    assert import_cycles(import_graph()) == []
