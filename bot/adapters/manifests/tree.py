"""A located view of YAML documents: every scalar knows the exact character span of its text.

ruamel.yaml parses; this module only records where each value sits in the original string so that
an edit can replace those characters and nothing else."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from bot.domain.errors import InvalidInput


@dataclass
class Scalar:
    value: Any  # the resolved Python value (str, int, float, bool, None)
    start: int  # span of the scalar's own text in the file, quotes included
    end: int
    style: str = ""  # "" plain, '"', "'", "|" or ">"


@dataclass
class Mapping:
    entries: list[tuple[Scalar, Node]] = field(default_factory=list)
    flow: bool = False
    start: int = 0
    end: int = 0
    column: int = 0  # the column of its keys (block style)

    def get(self, key: str) -> tuple[Scalar, Node] | None:
        for k, v in self.entries:
            if str(k.value) == key:
                return k, v
        return None


@dataclass
class Sequence:
    items: list[Node] = field(default_factory=list)
    flow: bool = False
    start: int = 0
    end: int = 0
    column: int = 0


Node = Scalar | Mapping | Sequence
Segment = str | int | tuple[str, str]  # mapping key, sequence index, or [key=value] selector


def to_data(node: Node | None) -> Any:
    if node is None:
        return None
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [to_data(item) for item in node.items]
    return {k.value: to_data(v) for k, v in node.entries}


def column_of(text: str, index: int) -> int:
    return index - (text.rfind("\n", 0, index) + 1)


def line_of(text: str, index: int) -> int:
    """1-based line number of a character index."""
    return text.count("\n", 0, index) + 1


# --- parsing with ruamel.yaml -------------------------------------------------------------------


def _yaml() -> YAML:
    return YAML(typ="safe", pure=True)


def load_data(text: str) -> list[Any]:
    """The documents as plain data, as a YAML loader sees them (empty documents kept as None)."""
    return list(_yaml().load_all(text))


@lru_cache(maxsize=4096)
def resolve_plain(text: str) -> Any:
    """What a plain scalar's text means (int, float, bool, null or string)."""
    try:
        value = _yaml().load(text)
    except YAMLError:
        return text
    return value if value is None or isinstance(value, str | int | float | bool) else text


def load_pair(old: str, new: str) -> tuple[list[Any], list[Any]]:
    """Both texts as data, read by the same loader: libyaml through PyYAML when it reads both
    (fast, and YAML 1.1 as Kubernetes reads it), else ruamel.yaml."""
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return list(yaml.load_all(old, Loader=loader)), list(yaml.load_all(new, Loader=loader))
    except yaml.YAMLError:
        return load_data(old), load_data(new)


@lru_cache(maxsize=4096)
def resolve_text(text: str) -> Any:
    """What one line's value text means: a quoted or plain scalar, or a flow collection."""
    try:
        return _yaml().load(text)
    except YAMLError:
        return text


def compose(text: str, where: str = "the file") -> list[Node | None]:
    """Located trees of every document; raises YAMLError when the text is not valid YAML and
    InvalidInput when a mapping repeats a key (loaders disagree on which one wins)."""
    return list(_compose(text, where))


@lru_cache(maxsize=64)
def _compose(text: str, where: str) -> tuple[Node | None, ...]:
    # cached: planning reads the same file several times, and the trees are never modified
    roots = [_convert(root, text, where) if root is not None else None for root in _yaml().compose_all(text)]
    # an empty document (a trailing ---) holds nothing to edit
    return tuple(None if isinstance(r, Scalar) and r.value is None and r.start == r.end else r for r in roots)


def _convert(node: Any, text: str, where: str) -> Node:
    start, end = node.start_mark.index, node.end_mark.index
    if isinstance(node, ScalarNode):
        while start < end and text[start] in "&!":  # the span starts at an anchor or tag: skip it
            while start < end and text[start] not in " \t\r\n":
                start += 1
            while start < end and text[start] in " \t":
                start += 1
        value = resolve_plain(node.value) if node.style is None else node.value
        if node.style is None and str(node.tag).endswith(":str"):
            value = node.value
        return Scalar(value, start, end, node.style or "")
    if isinstance(node, SequenceNode):
        items = [_convert(item, text, where) for item in node.value]
        return Sequence(items, bool(node.flow_style), start, end, column_of(text, start))
    if isinstance(node, MappingNode):
        entries: list[tuple[Scalar, Node]] = []
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _convert(key_node, text, where)
            if not isinstance(key, Scalar):
                raise InvalidInput(
                    f"{where}: a mapping key at line {line_of(text, key.start)} is not a scalar"
                )
            name = str(key.value)
            if name in seen:
                raise InvalidInput(
                    f"{where}: duplicate key '{name}' at line {line_of(text, key.start)} "
                    f"(first at line {seen[name]}); remove one before editing"
                )
            seen[name] = line_of(text, key.start)
            entries.append((key, _convert(value_node, text, where)))
        column = column_of(text, entries[0][0].start) if entries else column_of(text, start)
        return Mapping(entries, bool(node.flow_style), start, end, column)
    raise InvalidInput(f"{where}: unsupported YAML node at line {line_of(text, start)}")


def indent_step(roots: list[Node | None]) -> int:
    """The file's own indentation step: how far a nested mapping's keys sit right of their parent's."""
    steps: Counter[int] = Counter()

    def walk(node: Node | None) -> None:
        if isinstance(node, Mapping):
            for _key, value in node.entries:
                if isinstance(value, Mapping) and not value.flow and not node.flow and value.entries:
                    steps[value.column - node.column] += 1
                walk(value)
        elif isinstance(node, Sequence):
            for item in node.items:
                walk(item)

    for root in roots:
        walk(root)
    positive = [(count, step) for step, count in steps.items() if step > 0]
    return max(positive)[1] if positive else 2


# --- paths ----------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"""\[(?:(-?\d+)|(["'])(.*?)\2|([^=\]]+)=(["']?)(.*?)\5)\]""")


def parse_path(path: str) -> list[Segment]:
    """``a.b[0].c``, ``replicas[name=checkout].count``, ``metadata.labels["app.kubernetes.io/name"]``."""
    segments: list[Segment] = []
    i, n = 0, len(path)
    while i < n:
        ch = path[i]
        if ch == ".":
            i += 1
            continue
        if ch == "[":
            match = _SEGMENT.match(path, i)
            if not match:
                raise InvalidInput(
                    f'cannot read path {path!r} at {path[i:]!r}: use [N], [key=value] or ["key"]'
                )
            index, _q, quoted, sel_key, _q2, sel_value = match.groups()
            if index is not None:
                segments.append(int(index))
            elif quoted is not None:
                segments.append(quoted)
            else:
                segments.append((sel_key.strip(), sel_value))
            i = match.end()
            continue
        if ch in "\"'":
            close = path.find(ch, i + 1)
            if close < 0:
                raise InvalidInput(f"unclosed quote in path {path!r}")
            segments.append(path[i + 1 : close])
            i = close + 1
            continue
        j = i
        while j < n and path[j] not in ".[":
            j += 1
        segments.append(path[i:j])
        i = j
    if not segments:
        raise InvalidInput("an empty path selects nothing")
    return segments


def format_path(segments: list[Segment]) -> str:
    out = ""
    for seg in segments:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif isinstance(seg, tuple):
            out += f"[{seg[0]}={seg[1]}]"
        else:
            out += ("." if out else "") + (seg if re.fullmatch(r"[\w/-]+", seg) else f'["{seg}"]')
    return out


@dataclass
class Located:
    """Where a path leads: the node found, or the deepest mapping and the keys still missing."""

    node: Node | None  # the value node (None when keys are missing)
    data_path: list[str | int]  # the path with selectors resolved to indexes
    parent: Mapping | None = None  # mapping that holds the last key found
    key: Scalar | None = None  # the key whose value is ``node`` (or the null/empty value to fill)
    missing: list[str] = field(default_factory=list)


def locate(root: Node | None, segments: list[Segment], where: str) -> Located:
    node: Node | None = root
    data_path: list[str | int] = []
    parent: Mapping | None = None
    key: Scalar | None = None
    for pos, seg in enumerate(segments):
        shown = format_path(segments[: pos + 1])
        if isinstance(seg, str):
            if isinstance(node, Scalar) and node.value is None and parent is not None:
                return Located(node, data_path, parent, key, [str(s) for s in segments[pos:]])
            if not isinstance(node, Mapping):
                raise InvalidInput(f"{where}: {shown} is not there (its parent is not a mapping)")
            found = node.get(seg)
            if found is None:
                if not all(isinstance(s, str) for s in segments[pos:]):
                    raise InvalidInput(f"{where}: {shown} is not there")
                return Located(None, data_path, node, None, [str(s) for s in segments[pos:]])
            parent, (key, node) = node, found
            data_path.append(seg)
            continue
        if not isinstance(node, Sequence):
            raise InvalidInput(f"{where}: {shown} is not there (its parent is not a list)")
        if isinstance(seg, int):
            if not -len(node.items) <= seg < len(node.items):
                raise InvalidInput(f"{where}: {shown} is out of range (the list has {len(node.items)} items)")
            index = seg % len(node.items)
        else:
            matches = [i for i, item in enumerate(node.items) if _selects(item, seg)]
            if len(matches) != 1:
                found_what = "no item" if not matches else f"{len(matches)} items"
                raise InvalidInput(f"{where}: {shown} matches {found_what}; it must match exactly one")
            index = matches[0]
        data_path.append(index)
        node, parent, key = node.items[index], None, None
    return Located(node, data_path, parent, key)


def _selects(item: Node, selector: tuple[str, str]) -> bool:
    if not isinstance(item, Mapping):
        return False
    hit = item.get(selector[0])
    return hit is not None and isinstance(hit[1], Scalar) and str(hit[1].value) == selector[1]


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split on "\\n" only (as git and YAML do; str.splitlines splits on more)."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out
