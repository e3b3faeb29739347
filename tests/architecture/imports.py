"""The import graph of the ``bot`` package, read from the source with ``ast`` (nothing imported)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "bot"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    target: str  # a module, or a module's attribute (``from bot import wiring`` names bot.wiring)
    names: tuple[str, ...]  # the local names it binds
    typing_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _typing_guard(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, typing_only: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        guarded = typing_only or (isinstance(child, ast.If) and _typing_guard(child))
        yield child, guarded
        yield from _walk(child, guarded)


def imports(name: str, path: Path) -> list[Import]:
    """Every ``bot`` import in ``path``, anywhere in the file (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node, typing_only in _walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                found.append(Import(name, node.lineno, alias.name, (bound,), typing_only))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            for alias in node.names:
                bound = (alias.asname or alias.name,)
                found.append(Import(name, node.lineno, base, bound, typing_only))
                found.append(Import(name, node.lineno, f"{base}.{alias.name}", bound, typing_only))
    return [i for i in found if i.target == "bot" or i.target.startswith("bot.")]


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(i for name, path in modules().items() for i in imports(name, path))


def graph(*, runtime_only: bool = True) -> dict[str, set[str]]:
    """Module → the ``bot`` modules it imports (a name that is an attribute, not a module, is
    dropped; so are imports for type checkers only when ``runtime_only``)."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for i in all_imports():
        if i.target in known and i.target != i.module and not (runtime_only and i.typing_only):
            edges[i.module].add(i.target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
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
                    work.append((child, iter(sorted(edges[child]))))
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
                    found.append(sorted(component))
    return found
