"""Kustomize patches: which one sets a workload's value last, strategic merge or JSON 6902.

A kustomization applies ``patchesStrategicMerge``, then ``patchesJson6902``, then ``patches``,
each list in order, so the last patch that sets a value is the one that takes effect. A strategic
merge patch is a partial manifest of the workload; a JSON 6902 patch is a list of operations on a
target, and an ``add`` or ``replace`` of the value's JSON pointer (or of a parent object that holds
it) sets it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.adapters.manifests.editor import Parsed
from bot.adapters.manifests.layout import Kustomization
from bot.domain.manifest import dig


@dataclass(frozen=True)
class PatchHit:
    file: str
    value: Any
    path: str | None = None  # JSON 6902: where the operation's value sits in the file; None: a merge patch

    @property
    def kind(self) -> str:
        return "a JSON 6902 patch" if self.path is not None else "a patch"


def entries(k: Kustomization) -> list[tuple[str, dict[str, Any]]]:
    """(repository-relative file, target) of each patch file, in the order kustomize applies them."""
    out: list[tuple[str, dict[str, Any]]] = []
    merge = k.data.get("patchesStrategicMerge")
    if isinstance(merge, list):
        out += [(e, {}) for e in merge if isinstance(e, str) and "\n" not in e]
    for key in ("patchesJson6902", "patches"):
        listed = k.data.get(key)
        if isinstance(listed, list):
            for e in listed:
                if isinstance(e, dict) and isinstance(e.get("path"), str):
                    target = e.get("target")
                    out.append((e["path"], target if isinstance(target, dict) else {}))
    return [(posixpath.normpath(posixpath.join(k.directory, f)), t) for f, t in out]


def _targets(target: dict[str, Any], kind: str, name: str) -> bool:
    return target.get("name") in (None, name) and target.get("kind") in (None, kind)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def pointers(doc_path: Sequence[object]) -> str:
    """The JSON pointer of a path in the workload's manifest."""
    return "/" + "/".join(_escape(str(p)) for p in doc_path)


def _from_operation(ops: list[Any], pointer: str) -> tuple[Any, str] | None:
    """(value, path in the file) of the last add/replace that sets ``pointer``."""
    found = None
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace"):
            continue
        where = str(op.get("path", ""))
        if where == pointer:
            found = (op.get("value"), f"[{i}].value")
        elif pointer.startswith(where.rstrip("/") + "/") and isinstance(op.get("value"), dict):
            rest = [
                p.replace("~1", "/").replace("~0", "~") for p in pointer[len(where) :].strip("/").split("/")
            ]
            value = dig(op["value"], rest)
            if value is not None and all(isinstance(p, str) and p.isidentifier() for p in rest):
                found = (value, f"[{i}].value." + ".".join(rest))
    return found


def last_patch(
    parsed: dict[str, Parsed],
    k: Kustomization,
    kind: str,
    name: str,
    read: Callable[[Any], Any],
    pointer: str,
) -> PatchHit | None:
    """The patch of ``k`` that sets the value last: ``read`` picks it from a merge patch's
    document, ``pointer`` names it for JSON 6902 operations."""
    hit = None
    for rel, target in entries(k):
        if rel not in parsed:
            continue
        for _i, doc in parsed[rel].documents():
            if isinstance(doc, list):
                if target.get("name") == name and _targets(target, kind, name):
                    found = _from_operation(doc, pointer)
                    if found is not None:
                        hit = PatchHit(rel, found[0], found[1])
            elif (
                isinstance(doc, dict)
                and doc.get("kind") == kind
                and (doc.get("metadata") or {}).get("name") == name
                and _targets(target, kind, name)
                and (value := read(doc)) is not None
            ):
                hit = PatchHit(rel, value)
    return hit
