"""Objects that hold collaborators are complete when constructed: nothing outside a class assigns
an attribute of one afterwards (no hooks plugged in later, no context filled in by its caller).

"Holds collaborators" is read from the source: a class whose constructor arguments or fields
are typed with a port (a Protocol in bot/ports), ``Settings``, or another such class. Data (a
report, an answer being assembled) is not one, and may be built step by step."""

from __future__ import annotations

import ast
import contextlib

from tests.architecture.imports import modules

Trees = dict[str, ast.Module]
ROOT_NAMES = ("wiring", "bot.wiring")  # what the composition root returns is wired


def _names(node: ast.AST) -> set[str]:
    """The type names an annotation mentions (``X | None``, ``list[X]``, ``"X"``)."""
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            found.add(n.id)
        elif isinstance(n, ast.Attribute):
            found.add(n.attr)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):  # a quoted annotation
            with contextlib.suppress(SyntaxError):  # a docstring, not a type
                found |= _names(ast.parse(n.value, mode="eval"))
    return found


def _typed_with(cls: ast.ClassDef) -> set[str]:
    """The type names of a class's fields and constructor arguments."""
    used: set[str] = set()
    for item in cls.body:
        if isinstance(item, ast.AnnAssign):
            used |= _names(item.annotation)
        elif isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = [*item.args.posonlyargs, *item.args.args, *item.args.kwonlyargs]
            used |= {n for a in args if a.annotation is not None for n in _names(a.annotation)}
    return used


def _classes(trees: Trees) -> list[tuple[str, ast.ClassDef]]:
    return [(name, n) for name, tree in trees.items() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]


def _bases(cls: ast.ClassDef) -> set[str]:
    return {ast.unparse(b) for b in cls.bases}


def _ports(trees: Trees) -> set[str]:
    """The ports (Protocols in bot/ports) and ``Settings``."""
    found = {
        c.name for name, c in _classes(trees) if name.startswith("bot.ports.") and "Protocol" in _bases(c)
    }
    return found | {"Settings"}


def wired_classes(trees: Trees) -> set[str]:
    """Classes that hold collaborators (see the module's docstring)."""
    ports = _ports(trees)
    typed = {c.name: _typed_with(c) for _, c in _classes(trees) if not _bases(c) & {"Protocol", "BaseModel"}}
    wired = {c for c, used in typed.items() if used & ports}
    while more := {c for c, used in typed.items() if used & wired} - wired:
        wired |= more
    return wired


def _bound_to_wired(fn: ast.FunctionDef | ast.AsyncFunctionDef, classes: set[str]) -> set[str]:
    """Local names in ``fn`` that hold a wired object: typed so, built so, or from the root."""
    args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    bound = {a.arg for a in args if a.annotation is not None and _names(a.annotation) & classes}
    for node in ast.walk(fn):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if _names(node.annotation) & classes:
                bound.add(node.target.id)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            from_root = isinstance(func, ast.Attribute) and ast.unparse(func.value) in ROOT_NAMES
            if called in classes or from_root:
                bound |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return bound - {"self", "cls"}


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        pending = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        pending = [node.target]
    else:
        return []
    out: list[ast.expr] = []
    while pending:
        target = pending.pop()
        if isinstance(target, ast.Tuple | ast.List):
            pending.extend(target.elts)
        else:
            out.append(target)
    return out


def _given(init: ast.FunctionDef, kinds: set[str]) -> set[str]:
    """Attributes ``__init__`` sets from its arguments typed with ``kinds`` (``self.a = a``,
    ``self.a, self.b = a, b``)."""
    args = [*init.args.posonlyargs, *init.args.args, *init.args.kwonlyargs]
    typed = {a.arg for a in args if a.annotation is not None and _names(a.annotation) & kinds}
    held = set()
    for node in ast.walk(init):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        pairs = (
            zip(target.elts, value.elts, strict=False)
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
            else [(target, value)]
        )
        for t, v in pairs:
            if isinstance(t, ast.Attribute) and isinstance(v, ast.Name) and v.id in typed:
                held.add(t.attr)
    return held


def _collaborators(cls: ast.ClassDef, kinds: set[str]) -> set[str]:
    """The attributes of ``cls`` that hold a port or a wired object it was given."""
    held = set()
    for item in cls.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            if _names(item.annotation) & kinds:
                held.add(item.target.id)
        elif isinstance(item, ast.FunctionDef) and item.name == "__init__":
            held |= _given(item, kinds)
    return held


def late_assignments(trees: Trees) -> set[tuple[str, str]]:
    """(module, ``name.attr``) for each attribute assigned on a wired object from outside it,
    and each ``self.collaborator.attr`` an object assigns on what it was given."""
    classes = wired_classes(trees)
    kinds = classes | _ports(trees)
    found = set()
    for name, tree in trees.items():
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            held = {f"self.{attr}" for attr in _collaborators(cls, kinds)}
            for node in ast.walk(cls):
                for t in _targets(node):
                    if isinstance(t, ast.Attribute) and ast.unparse(t.value) in held:
                        found.add((name, f"{ast.unparse(t.value)}.{t.attr}"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            bound = _bound_to_wired(fn, classes)
            for node in ast.walk(fn):
                for t in _targets(node):
                    if isinstance(t, ast.Attribute) and ast.unparse(t.value) in bound:
                        found.add((name, f"{ast.unparse(t.value)}.{t.attr}"))
    return found


def _bot_trees() -> Trees:
    return {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in modules().items()}


def test_objects_that_hold_collaborators_are_complete_when_constructed() -> None:
    assert late_assignments(_bot_trees()) == set(), "pass it to the constructor instead"


def test_the_check_knows_the_wired_objects() -> None:
    classes = wired_classes(_bot_trees())
    expected = {"ProposalWorkflow", "ProposalMerger", "IncidentService", "PostMergeService", "MergeWatch"}
    assert expected | {"ToolContext", "SlackDeps", "Runtime", "Assistant"} <= classes
    assert {"Answer", "Investigation", "ReplyTarget"}.isdisjoint(classes)  # data


def test_the_check_sees_what_it_looks_for() -> None:
    source = {
        "bot.ports.thing": "class Store(Protocol):\n    def get(self) -> int: ...\n",
        "bot.services.svc": (
            "class Service:\n"
            "    def __init__(self, store: Store, spare: Store, n: int) -> None:\n"
            "        self.store, self.spare, self.n = store, spare, n\n"
            "        self.counts = {}\n"
            "    def rewire(self) -> None:\n"
            "        self.spare.cache = None\n"
            "        self.counts.total = 0  # its own data\n"
            "@dataclass\nclass Holder:\n    service: Service | None = None\n"
            "@dataclass\nclass Result:\n    text: str = ''\n"
        ),
        "bot.wiring.root": (
            "def build(given: Service, store: Store) -> None:\n"
            "    given.hook = 1\n"
            "    made = Service(store, store, 1)\n    made.jobs, other = 2, 3\n"
            "    holder = Holder()\n    holder.service = made\n"
            "    found = wiring.workflow()\n    found.on_merged = print\n"
            "    result = Result()\n    result.text = 'data may be built in steps'\n"
        ),
    }
    trees = {name: ast.parse(text) for name, text in source.items()}
    assert wired_classes(trees) == {"Service", "Holder"}
    assert late_assignments(trees) == {
        ("bot.services.svc", "self.spare.cache"),
        ("bot.wiring.root", "given.hook"),
        ("bot.wiring.root", "made.jobs"),
        ("bot.wiring.root", "holder.service"),
        ("bot.wiring.root", "found.on_merged"),
    }
