"""Which key path each line of a YAML-ish file sits under, without requiring valid YAML.

GitOps repositories hold manifests that a strict parser rejects (a ``containers:`` list dedented
to column 0 is common and kubectl-tolerated after templating), and a diff is about lines anyway.
The manifests' tolerant line reader (``bot.adapters.manifests.lines``) tells what encloses each
line; this module names list items by their identity, giving paths such as
``spec.template.spec.containers[web].image``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.adapters.manifests.lines import read_lines

_IDENTITY_KEYS = ("name", "key", "mountPath", "containerPort", "path")


@dataclass(frozen=True)
class LineInfo:
    """One line: the keys and list items enclosing it, and the scalar it carries, if any."""

    path: tuple[str, ...]  # keys, with list items as "[<identity>]" (identity may be empty)
    value: str | None  # the scalar on this line, unquoted and without its comment
    doc: int  # index of the YAML document (``---`` separated)
    significant: bool  # False for blank and comment-only lines

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p for p in self.path if not p.startswith("["))


@dataclass(frozen=True)
class Document:
    kind: str | None
    name: str | None


@dataclass
class Tracked:
    lines: list[LineInfo]
    docs: list[Document] = field(default_factory=list)


def track(text: str) -> Tracked:
    """Key paths for every line of ``text`` (one entry per line, same order)."""
    read = read_lines(text)
    values = [line.value if line.block is not None else _unquote(line.value) for line in read]
    identities: dict[int, str] = {}  # an item's identity: its name (or key, ...), or its scalar
    nested: dict[int, str] = {}  # an item's fallback identity: a ``name`` anywhere inside it
    blocks: dict[int, list[int]] = {}  # block scalar start line -> its body lines
    for index, (line, value) in enumerate(zip(read, values, strict=True)):
        if line.block is not None:
            blocks.setdefault(line.block, []).append(index)
            continue
        if not line.keyed:
            if line.path and isinstance(line.path[-1], int) and value:
                identities.setdefault(line.path[-1], value)
            continue
        key, parent = line.path[-1], line.path[-2:-1]
        if parent and isinstance(parent[0], int) and key in _IDENTITY_KEYS and value:
            identities.setdefault(parent[0], value)
        name = value if key == "name" else _flow_name(value)
        for step in line.path:
            if name and isinstance(step, int):
                nested.setdefault(step, name)
    names = nested | identities
    lines = [
        LineInfo(_render(line.path, names), value, line.doc, line.significant)
        for line, value in zip(read, values, strict=True)
    ]
    text_lines = text.splitlines()
    for start, block in blocks.items():
        _track_block(lines, text_lines, start, block)
    return Tracked(lines, _documents(lines, (read[-1].doc if read else 0) + 1))


def _track_block(lines: list[LineInfo], text: list[str], start: int, body: list[int]) -> None:
    """Embedded YAML (a Kustomize ``patch: |``, a ConfigMap file) gets paths of its own."""
    content = [text[i] for i in body]
    margin = min((len(t) - len(t.lstrip(" ")) for t in content if t.strip()), default=0)
    inner = track("\n".join(t[margin:] for t in content))
    prefix = lines[start].path
    for index, info in zip(body, inner.lines, strict=False):
        lines[index] = LineInfo((*prefix, *info.path), info.value, lines[index].doc, info.significant)


def _flow_name(value: str | None) -> str | None:
    """``name`` inside a flow mapping such as ``{kind: Deployment, name: auth}``."""
    match = re.search(r"[{,]\s*name\s*:\s*([^,}\s]+)", value or "")
    return match.group(1).strip("\"'") if match and (value or "").startswith("{") else None


def _render(path: tuple[str | int, ...], identities: dict[int, str]) -> tuple[str, ...]:
    return tuple(f"[{identities.get(p, '')}]" if isinstance(p, int) else p for p in path)


def _unquote(text: str | None) -> str | None:
    """A value's text without its quotes (up to the first closing one)."""
    if text is None or text[:1] not in ("'", '"'):
        return text
    end = text.find(text[0], 1)
    return text[1:end] if end > 0 else text[1:]


def _documents(lines: list[LineInfo], count: int) -> list[Document]:
    kinds: dict[int, str] = {}
    names: dict[int, str] = {}
    for info in lines:
        if info.value is None:
            continue
        if info.path == ("kind",):
            kinds.setdefault(info.doc, info.value)
        elif info.path == ("metadata", "name"):
            names.setdefault(info.doc, info.value)
    return [Document(kinds.get(i), names.get(i)) for i in range(count)]


def parse_leaves(text: str) -> Tracked | None:
    """Every scalar leaf of ``text`` parsed as YAML (or JSON), one LineInfo per leaf.

    For what the line tracker cannot localise: JSON manifests and flow collections
    (``{...}``, ``[...]``) that hold many fields on one line. None when the text does not parse.
    """
    try:
        parsed = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return None
    leaves: list[LineInfo] = []
    docs: list[Document] = []
    for index, node in enumerate(parsed):
        _flatten(node, (), index, leaves)
        meta = node.get("metadata") if isinstance(node, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
        kind = node.get("kind") if isinstance(node, dict) else None
        docs.append(Document(str(kind) if kind else None, str(name) if name else None))
    return Tracked(leaves, docs)


def _flatten(node: Any, path: tuple[str, ...], doc: int, out: list[LineInfo]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, (*path, str(key)), doc, out)
    elif isinstance(node, list):
        for position, item in enumerate(node):
            ident = next((item[k] for k in _IDENTITY_KEYS if isinstance(item, dict) and k in item), None)
            if ident is None and not isinstance(item, dict | list):
                ident = item
            _flatten(item, (*path, f"[{ident if ident is not None else position}]"), doc, out)
    else:
        value = str(node).lower() if isinstance(node, bool) else None if node is None else str(node)
        out.append(LineInfo(path, value, doc, True))
