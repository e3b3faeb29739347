"""Which key path each line of a YAML-ish file sits under, without requiring valid YAML.

GitOps repositories in the wild hold manifests that a strict parser rejects (a ``containers:``
list dedented to column 0 is common and kubectl-tolerated after templating), and a diff is
about lines anyway. This tracker follows indentation, ``key:`` lines and ``- `` items, and
gives each line a path such as ``spec.template.spec.containers[web].image``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.adapters.manifests.lines import comment_start, key_end

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
class _Frame:
    indent: int
    kind: str  # "key", "item" or "scalar" (a block scalar's body)
    label: str  # the key, or the item's number
    child_indent: int | None = None
    is_seq: bool = False
    start: int = 0  # for a block scalar: the index of its ``key: |`` line


@dataclass
class Tracked:
    lines: list[LineInfo]
    docs: list[Document] = field(default_factory=list)


def track(text: str) -> Tracked:
    """Key paths for every line of ``text`` (one entry per line, same order)."""
    raw: list[tuple[tuple[str, ...], str | None, int, bool]] = []
    identities: dict[str, str] = {}
    nested: dict[str, str] = {}  # an item's fallback identity: a ``name`` anywhere inside it
    blocks: dict[int, list[int]] = {}  # block scalar start line -> its body lines
    lines_in = text.splitlines()
    stack: list[_Frame] = []
    doc = 0
    items = 0
    for line in lines_in:
        stripped = line.strip()
        if stripped in ("---", "...") or stripped.startswith("--- "):
            stack, doc = [], doc + 1
            raw.append(((), None, doc, False))
            continue
        indent = len(line) - len(line.lstrip(" "))
        if stripped and stack and stack[-1].kind == "scalar" and indent <= stack[-1].indent:
            stack.pop()  # the block scalar ended
        if stack and stack[-1].kind == "scalar":
            blocks.setdefault(stack[-1].start, []).append(len(raw))
            raw.append((_labels(stack), stripped or None, doc, bool(stripped)))
            continue
        if not stripped or stripped.startswith("#"):
            raw.append((_labels(stack), None, doc, False))
            continue
        is_item = stripped == "-" or stripped.startswith("- ")
        while stack and not _contains(stack, indent, is_item):
            stack.pop()
        if stack and stack[-1].child_indent is None:
            stack[-1].child_indent, stack[-1].is_seq = indent, is_item
        col, rest, value = indent, stripped, None
        while rest == "-" or rest.startswith("- "):
            items += 1
            stack.append(_Frame(col, "item", str(items)))
            body = rest[1:].lstrip(" ")
            col += len(rest) - len(body)
            rest = body
        if rest:
            colon = key_end(rest, 0)
            if colon >= 0:
                key = rest[:colon].strip().strip("\"'")
                value = _scalar(rest[colon + 1 :])
                if stack and stack[-1].kind == "item" and key in _IDENTITY_KEYS and value:
                    identities.setdefault(stack[-1].label, value)
                name = value if key == "name" else _flow_name(value)
                for frame in stack:
                    if name and frame.kind == "item":
                        nested.setdefault(frame.label, name)
                raw.append(((*_labels(stack), key), value, doc, True))
                if value is None:
                    stack.append(_Frame(col, "key", key))
                elif value[:1] in ("|", ">") and re.fullmatch(r"[|>][0-9+-]*", value):
                    stack.append(_Frame(col, "scalar", key, start=len(raw) - 1))
                continue
            value = _scalar(rest)
            if stack and stack[-1].kind == "item" and value:
                identities.setdefault(stack[-1].label, value)
        raw.append((_labels(stack), value, doc, True))
    names = nested | identities
    lines = [LineInfo(_render(path, names), value, d, sig) for path, value, d, sig in raw]
    for start, block in blocks.items():
        _track_block(lines, lines_in, start, block)
    return Tracked(lines, _documents(lines, doc + 1))


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


def _contains(stack: list[_Frame], indent: int, is_item: bool) -> bool:
    """Whether the innermost frame still encloses a line at ``indent``."""
    frame = stack[-1]
    if frame.kind in ("item", "scalar"):
        return indent > frame.indent
    if frame.child_indent is None:
        if indent > frame.indent or (is_item and indent == frame.indent):
            return True
        # A list dedented below its key (``containers:`` then ``- name:`` at column 0) belongs
        # to that key unless an enclosing list already owns items at this column.
        return is_item and not any(
            (f.kind == "item" and f.indent == indent) or (f.is_seq and f.child_indent == indent)
            for f in stack[:-1]
        )
    if frame.is_seq:
        return indent > frame.child_indent or (indent == frame.child_indent and is_item)
    return indent >= frame.child_indent


def _labels(stack: list[_Frame]) -> tuple[str, ...]:
    return tuple(f.label if f.kind != "item" else f"#{f.label}" for f in stack)


def _render(path: tuple[str, ...], identities: dict[str, str]) -> tuple[str, ...]:
    return tuple(f"[{identities.get(p[1:], '')}]" if p.startswith("#") else p for p in path)


def _scalar(text: str) -> str | None:
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    if text[0] in "\"'":
        end = text.find(text[0], 1)
        return text[1:end] if end > 0 else text[1:]
    return text[: comment_start(text, 0)].strip() or None


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
