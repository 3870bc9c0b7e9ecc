"""knowledge/ stays easy to read: no import cycle between its modules (imports inside functions
and under TYPE_CHECKING count too: they only hide a cycle until that code runs) and no module
over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "knowledge"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _owner(name: str, modules) -> str | None:
    """The module that importing ``name`` runs: ``name`` itself, else its nearest package."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, source: str, *, is_package: bool, modules=MODULES) -> set[str]:
    """The modules of ``knowledge`` that ``module`` imports anywhere in its source."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from .x import y, from .. import z
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]).strip(".")
            for alias in node.names:  # "from knowledge import dense" runs knowledge/dense.py
                sub = f"{base}.{alias.name}"
                names.add(sub if sub in modules else base)
    found = {_owner(n, modules) for n in names if n.split(".")[0] == "knowledge"}
    return {m for m in found if m and m != module}


def import_graph() -> dict[str, set[str]]:
    return {
        module: imports(module, path.read_text(encoding="utf-8"),
                        is_package=path.name == "__init__.py")
        for module, path in MODULES.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path around each cycle a depth-first search meets."""
    found: list[list[str]] = []
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import():
    source = """
from __future__ import annotations
from typing import TYPE_CHECKING
import knowledge.search
from knowledge import sparse, Searcher
from . import fuse
from .documents import Document
if TYPE_CHECKING:
    from knowledge.chat import ChatLexicon
def f():
    from knowledge.evaluate import Question
"""
    modules = {"knowledge", "knowledge.probe", "knowledge.search", "knowledge.sparse",
               "knowledge.fuse", "knowledge.documents", "knowledge.documents.model",
               "knowledge.chat", "knowledge.evaluate"}
    found = imports("knowledge.probe", source, is_package=False, modules=modules)
    assert found == modules - {"knowledge.probe", "knowledge.documents.model"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycle_inside_knowledge():
    assert cycles(import_graph()) == []


def test_no_module_over_400_lines():
    lengths = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in lengths.items() if n > MAX_LINES} == {}
