"""Repair one specific, common breakage: a list indented less than the key that owns it.

::

          containers:
    - name: web            <- YAML parsers reject this; kustomize and Argo CD cannot apply it
      image: web:1.2

Such a file is not applied by any GitOps tool, so a fix that only changes a value inside it
would never take effect. When Tugboat edits such a file it also moves the misplaced list under
its key, in the indentation style the file uses elsewhere, and verifies that the result parses
to exactly what the tolerant line reader understood. Nothing else is ever reformatted.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.manifests.lines import NotReadable, comment_start, key_end, parse_lines
from bot.adapters.manifests.tree import load_data, split_lines, to_data


@dataclass(frozen=True)
class Repair:
    text: str
    lines_moved: int
    keys: tuple[str, ...]  # the keys whose lists were moved, e.g. ("containers",)


def _shape(line: str) -> tuple[int, str]:
    body = line.rstrip("\r\n").lstrip(" ")
    return len(line.rstrip("\r\n")) - len(body), body


def _is_content(body: str) -> bool:
    return bool(body.strip()) and not body.startswith("#")


def _is_item(body: str) -> bool:
    return body == "-" or body.startswith("- ")


def _empty_key(line: str) -> str | None:
    """The key of a ``key:`` line whose value starts on a later line, else None."""
    col, body = _shape(line)
    if not _is_content(body) or _is_item(body):
        return None
    text = line.rstrip("\r\n")
    colon = key_end(text, col)
    if colon < 0 or text[colon + 1 : comment_start(text, colon + 1)].strip():
        return None
    return text[col:colon].strip()


def _next_content(lines: list[str], start: int) -> int | None:
    for j in range(start, len(lines)):
        if _is_content(_shape(lines[j])[1]):
            return j
    return None


def _sequence_offset(lines: list[str]) -> int:
    """How far this file indents a list under its key: 0 (same column) or the common offset."""
    offsets: dict[int, int] = {}
    for i, line in enumerate(lines):
        if _empty_key(line) is None:
            continue
        j = _next_content(lines, i + 1)
        if j is None:
            continue
        key_col = _shape(line)[0]
        col, body = _shape(lines[j])
        if _is_item(body) and col >= key_col:
            offsets[col - key_col] = offsets.get(col - key_col, 0) + 1
    return max(offsets, key=lambda k: (offsets[k], k)) if offsets else 2


def _block_end(lines: list[str], start: int, column: int) -> int:
    """First line after the list starting at ``start``: the list owns deeper lines and its items."""
    end = start
    for k in range(start, len(lines)):
        col, body = _shape(lines[k])
        if not _is_content(body):
            continue
        if col > column or (col == column and _is_item(body)):
            end = k + 1
        else:
            break
    return end


def repair_dedented_lists(text: str) -> Repair | None:
    """Move every list that sits left of its key under that key; None when there is none.

    The repair is kept only if the result parses as YAML to the same data the tolerant line
    reader reads from the original, so it can never change what the file means.
    """
    lines = split_lines(text)
    offset = _sequence_offset(lines)
    out = list(lines)
    moved, keys = 0, []
    i = 0
    while i < len(lines):
        key = _empty_key(lines[i])
        j = _next_content(lines, i + 1) if key is not None else None
        if key is None or j is None:
            i += 1
            continue
        key_col = _shape(lines[i])[0]
        col, body = _shape(lines[j])
        if not _is_item(body) or col >= key_col:
            i += 1
            continue
        end = _block_end(lines, j, col)
        pad = " " * (key_col + offset - col)
        for k in range(j, end):
            if _is_content(_shape(lines[k])[1]):
                out[k] = pad + lines[k]
                moved += 1
        keys.append(key)
        i = end
    if not moved:
        return None
    repaired = "".join(out)
    try:
        understood = [to_data(doc) for doc in parse_lines(text)]
        parsed = load_data(repaired)
    except (NotReadable, ValueError, Exception):  # any parser failure means: no safe repair
        return None
    if parsed != understood:
        return None
    return Repair(repaired, moved, tuple(keys))
