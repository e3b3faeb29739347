"""The architecture the README draws, checked on the source: the core never imports an adapter
or the composition root, bot's modules import each other without cycles, and adapters are
built in the composition root only."""

from __future__ import annotations

import ast

from tests.architecture.imports import all_imports, cycles, graph, modules

CORE = ("bot.domain", "bot.ports", "bot.analysis", "bot.services", "bot.assistant", "bot.foresight")
CORE_MODULES = ("bot.settings",)
OUTER = ("bot.adapters", "bot.wiring", "bot.cli", "bot.demo", "bot.__main__")
ROOT = ("bot.wiring",)  # the composition root, a package
SHARED_ADAPTER_INFRA = ("bot.adapters.http_budget",)  # HTTP time budgets every client adapter uses

_FACTORIES = ("open", "load")  # class methods that build an instance


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _is_core(name: str) -> bool:
    return _within(name, CORE) or name in CORE_MODULES


def _adapter_package(name: str) -> str | None:
    parts = name.split(".")
    return ".".join(parts[:3]) if len(parts) >= 3 and parts[1] == "adapters" else None


def core_imports_outward() -> set[tuple[str, str]]:
    """(core module, adapter/root/CLI module) for every such import, type-checking ones included."""
    found = set()
    for i in all_imports():
        if _is_core(i.module) and _within(i.target, OUTER):
            target = i.target if i.target in modules() else i.target.rpartition(".")[0]
            found.add((i.module, target))
    return found


def adapter_constructions() -> set[tuple[str, str]]:
    """(module, call) for every call outside the root that builds an object of a class from an
    adapter package: ``Cls(...)`` or ``Cls.open(...)``. An adapter may build its own package's
    classes (its internals) and the shared adapter infrastructure."""
    found = set()
    every = all_imports()
    for name, path in modules().items():
        if _within(name, ROOT):
            continue
        own = _adapter_package(name)
        classes: dict[str, str] = {}
        for i in every:
            package = _adapter_package(i.target)
            if i.module != name or i.typing_only or package is None or package == own:
                continue
            if _within(i.target, SHARED_ADAPTER_INFRA):
                continue
            classes.update({bound: i.target for bound in i.names if bound[:1].isupper()})
        if not classes:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in classes:
                found.add((name, func.id))
            elif (
                isinstance(func, ast.Attribute)
                and func.attr in _FACTORIES
                and isinstance(func.value, ast.Name)
                and func.value.id in classes
            ):
                found.add((name, f"{func.value.id}.{func.attr}"))
    return found


def test_the_core_imports_no_adapter_no_root_and_no_cli() -> None:
    assert core_imports_outward() == set(), "the core imports an adapter, the root or the CLI"


def test_bot_modules_import_each_other_without_cycles() -> None:
    assert cycles(graph(runtime_only=False)) == []  # imports for type checkers count too


def test_only_the_composition_root_builds_adapters() -> None:
    assert adapter_constructions() == set(), "adapters built outside bot/wiring/"


def test_the_checks_see_what_they_look_for() -> None:
    """The readers find a known import and a known cycle, so an empty result means clean."""
    edges = graph()
    assert "bot.ports.metrics" in edges["bot.analysis.gather"]
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
