"""Byte-exact manifest edits: replace one scalar's own text (or insert missing keys) and prove it.

ruamel.yaml parses and locates the value; the edit is a splice of the original string; the result
is parsed again and must equal the original data with only that value changed. Files that are
not valid YAML are read by ``lines.parse_lines`` instead, and then exactly one line may change."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from ruamel.yaml.error import YAMLError

from bot.adapters.manifests.lines import NotReadable, parse_lines
from bot.adapters.manifests.render import changed_line_count, matches, render_key, render_scalar, unified_diff
from bot.adapters.manifests.tree import (
    Mapping,
    Node,
    Scalar,
    Segment,
    column_of,
    compose,
    format_path,
    indent_step,
    line_of,
    load_pair,
    locate,
    parse_path,
    to_data,
)
from bot.domain.errors import InvalidInput

__all__ = ["BY_LINE_NOTE", "Edit", "Parsed", "edit_path", "parse", "set_path", "unified_diff"]

BY_LINE_NOTE = "file is not valid YAML; edited by line"


@dataclass
class Parsed:
    text: str
    roots: list[Node | None]
    by_line: bool  # True when the YAML parser refused the file and the line reader was used
    data: list[Any] = field(default_factory=list)  # each document as plain data

    def documents(self) -> list[tuple[int, Any]]:
        return [(i, d) for i, d in enumerate(self.data) if d is not None]


@dataclass
class Edit:
    text: str  # the whole new file
    old: Any  # the value before (None when the key was added)
    new: Any  # the value as read back from the new text
    data_path: list[str | int]
    document: int
    added: bool = False
    by_line: bool = False

    @property
    def notes(self) -> list[str]:
        return [BY_LINE_NOTE] if self.by_line else []


def parse(text: str, where: str = "the file") -> Parsed:
    try:
        roots = compose(text, where)
        return Parsed(text, roots, False, [to_data(r) for r in roots])
    except YAMLError as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        try:
            roots = parse_lines(text)
        except NotReadable as line_exc:
            raise InvalidInput(
                f"{where} is not valid YAML ({problem}) and cannot be read by line: {line_exc}"
            ) from exc
        return Parsed(text, roots, True, [to_data(r) for r in roots])


def _doc_label(data: Any) -> str:
    if isinstance(data, dict):
        name = (data.get("metadata") or {}).get("name") if isinstance(data.get("metadata"), dict) else None
        return f"{data.get('kind')}/{name}"
    return type(data).__name__


def select_document(parsed: Parsed, document: str | int | None, segments: list[Segment], where: str) -> int:
    """The document index for KIND/NAME, an index, or the only document the path exists in."""
    docs = parsed.documents()
    if not docs:
        raise InvalidInput(f"{where} holds no YAML document")
    if isinstance(document, int):
        if not 0 <= document < len(parsed.roots) or parsed.roots[document] is None:
            raise InvalidInput(f"{where} has no document #{document}")
        return document
    if document:
        kind, _, name = document.partition("/")
        hits = [
            i
            for i, d in docs
            if isinstance(d, dict)
            and str(d.get("kind", "")).lower() == kind.lower()
            and (not name or (isinstance(d.get("metadata"), dict) and d["metadata"].get("name") == name))
        ]
        if len(hits) != 1:
            labels = ", ".join(_doc_label(d) for _, d in docs)
            raise InvalidInput(f"{where}: {len(hits)} documents match {document!r} (documents: {labels})")
        return hits[0]
    if len(docs) == 1:
        return docs[0][0]
    having = []
    for i, _ in docs:
        try:
            if locate(parsed.roots[i], segments, where).node is not None:
                having.append(i)
        except InvalidInput:
            continue
    if len(having) == 1:
        return having[0]
    labels = ", ".join(_doc_label(d) for _, d in docs)
    raise InvalidInput(f"{where} has {len(docs)} documents ({labels}); choose one with KIND/NAME")


def set_path(text: str, path: str | Sequence[Segment], value: Any, document: str | int | None = None) -> str:
    """The new text with the value at ``path`` set to ``value``; every other byte unchanged."""
    return edit_path(text, path, value, document).text


def edit_path(
    text: str,
    path: str | Sequence[Segment],
    value: Any,
    document: str | int | None = None,
    where: str = "the file",
) -> Edit:
    segments = parse_path(path) if isinstance(path, str) else list(path)
    parsed = parse(text, where)
    index = select_document(parsed, document, segments, where)
    found = locate(parsed.roots[index], segments, where)
    shown = format_path(segments)
    if isinstance(found.node, Scalar) and not found.missing:
        new_text = _replace(text, found.node, found.key, value, shown, where)
        old_value = found.node.value
        added = False
    elif found.missing:
        if parsed.by_line:
            raise InvalidInput(f"{where} is not valid YAML, and {shown} must be added; add it by hand")
        new_text = _insert(parsed, found.parent, found.key, found.node, found.missing, value, where)
        old_value, added = None, True
    else:
        raise InvalidInput(
            f"{where}: {shown} holds a {type(found.node).__name__.lower()}, not a single value"
        )
    if new_text == text:
        return Edit(text, old_value, old_value, found.data_path, index, by_line=parsed.by_line)
    new_value = _verify(parsed, new_text, index, found.data_path, found.missing, value, shown, where)
    return Edit(
        new_text, old_value, new_value, [*found.data_path, *found.missing], index, added, parsed.by_line
    )


def _replace(text: str, old: Scalar, key: Scalar | None, value: Any, shown: str, where: str) -> str:
    if old.style in ("|", ">"):
        raise InvalidInput(
            f"{where}: {shown} is a block scalar at line {line_of(text, old.start)}; edit it by hand"
        )
    rendered = render_scalar(value, old)
    if old.start == old.end:  # an empty value: write it after the key's colon
        if key is None:
            raise InvalidInput(f"{where}: {shown} is an empty list item; edit it by hand")
        colon = text.index(":", key.end)
        return text[: colon + 1] + " " + rendered + text[colon + 1 :]
    if "\n" in text[old.start : old.end]:
        raise InvalidInput(
            f"{where}: {shown} spans several lines at line {line_of(text, old.start)}; edit it by hand"
        )
    return text[: old.start] + rendered + text[old.end :]


def _flow(keys: list[str], leaf: str) -> str:
    out = leaf
    for key in reversed(keys):
        out = "{" + f"{render_key(key)}: {out}" + "}"
    return out


def _end_of(text: str, node: Node) -> int:
    """Where a node's own text ends (block scalars and block collections end before trailing blanks)."""
    if isinstance(node, Scalar) or node.flow:
        end = node.end
        while end > node.start and text[end - 1] in " \t\r\n":
            end -= 1
        return end
    if isinstance(node, Mapping):
        if not node.entries:
            return node.start
        key, value = node.entries[-1]
        if isinstance(value, Scalar) and value.start == value.end:
            return key.end  # an empty value's position is wherever the next token starts
        return max(key.end, _end_of(text, value))
    return _end_of(text, node.items[-1]) if node.items else node.start


def _eol(text: str, at: int) -> str:
    """The line ending of the line holding index ``at`` (else of the line before it)."""
    newline = text.find("\n", at)
    if newline < 0:
        newline = text.rfind("\n", 0, at)
    return "\r\n" if newline > 0 and text[newline - 1] == "\r" else "\n"


def _block_lines(text: str, at: int, column: int, step: int, keys: list[str], leaf: str) -> str:
    """The new lines for ``keys`` (nested), to go after the line that holds index ``at``."""
    lines = [" " * (column + depth * step) + render_key(k) + ":" for depth, k in enumerate(keys)]
    lines[-1] += " " + leaf
    return _eol(text, at).join(lines)


def _after_line(text: str, at: int, block: str) -> str:
    newline = text.find("\n", at)
    if newline < 0:  # the last line has no final newline: keep it that way
        return text + _eol(text, at) + block
    return text[: newline + 1] + block + _eol(text, at) + text[newline + 1 :]


def _local_step(mapping: Mapping, default: int) -> int:
    """The indent step the mapping's own nested mappings use (siblings decide), else the file's."""
    for _key, value in mapping.entries:
        if isinstance(value, Mapping) and not value.flow and value.entries and value.column > mapping.column:
            return value.column - mapping.column
    return default


def _insert(
    parsed: Parsed,
    parent: Mapping | None,
    key: Scalar | None,
    node: Node | None,
    missing: list[str],
    value: Any,
    where: str,
) -> str:
    text = parsed.text
    leaf = render_scalar(value, None)
    step = indent_step(parsed.roots)
    if node is None:  # keys missing from an existing mapping
        assert parent is not None
        if parent.flow:
            brace = text.rindex("}", parent.start, parent.end)
            sep = ", " if parent.entries else ""
            entry = f"{render_key(missing[0])}: {_flow(missing[1:], leaf)}"
            return text[:brace] + sep + entry + text[brace:]
        at = _end_of(text, parent)
        step = _local_step(parent, step)
        return _after_line(text, at, _block_lines(text, at, parent.column, step, missing, leaf))
    # a key whose value is null (empty, ~ or null): give it a mapping
    assert isinstance(node, Scalar) and key is not None and parent is not None
    colon = text.index(":", key.end)
    if parent.flow:
        flow = _flow(missing, leaf)
        if node.start == node.end:
            return text[: colon + 1] + " " + flow + text[colon + 1 :]
        return text[: node.start] + flow + text[node.end :]
    if node.end > node.start and "\n" in text[colon : node.start]:
        raise InvalidInput(
            f"{where}: the null value at line {line_of(text, node.start)} is not on its key's line"
        )
    cleared = text[: colon + 1] + text[node.end :] if node.end > node.start else text
    column = column_of(text, key.start)
    step = _local_step(parent, step)
    return _after_line(cleared, colon, _block_lines(cleared, colon, column + step, step, missing, leaf))


def _set_in(data: Any, data_path: list[str | int], missing: list[str], value: Any) -> None:
    target = data
    for step in data_path[:-1]:
        target = target[step]
    if missing:
        if data_path:
            if not isinstance(target[data_path[-1]], dict):
                target[data_path[-1]] = {}
            target = target[data_path[-1]]
        for key in missing[:-1]:
            target = target.setdefault(key, {})
        target[missing[-1]] = value
    else:
        target[data_path[-1]] = value


def _get(data: Any, path: list[str | int]) -> Any:
    for step in path:
        data = data[step]
    return data


def _verify(
    parsed: Parsed,
    new_text: str,
    index: int,
    data_path: list[str | int],
    missing: list[str],
    requested: Any,
    shown: str,
    where: str,
) -> Any:
    """Re-read the new text: the same data except the one value, which reads back as requested."""
    try:
        if parsed.by_line:
            before = [to_data(r) for r in parsed.roots]
            after = [to_data(r) for r in parse_lines(new_text)]
        else:
            if missing:  # an added key must not repeat one
                compose(new_text, where)
            before, after = load_pair(parsed.text, new_text)
        got = _get(after[index], [*data_path, *missing])
    except (YAMLError, yaml.YAMLError, NotReadable, KeyError, IndexError, TypeError) as exc:
        raise InvalidInput(f"{where}: setting {shown} would break the file ({exc}); edit it by hand") from exc
    expected = copy.deepcopy(before)
    _set_in(expected[index], data_path, missing, got)
    if expected != after or not matches(requested, got):
        raise InvalidInput(
            f"{where}: setting {shown} to {requested!r} would change more than that value; edit it by hand"
        )
    removed, _added = changed_line_count(parsed.text, new_text)
    if removed > 1 or (parsed.by_line and changed_line_count(parsed.text, new_text) != (1, 1)):
        raise InvalidInput(f"{where}: setting {shown} would rewrite {removed} lines; edit it by hand")
    return got
