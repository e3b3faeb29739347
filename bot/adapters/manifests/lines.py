"""A tolerant, indentation-aware line reader for manifests that are not valid YAML.

Some repositories hold files a YAML parser rejects, typically a list written less indented than
the key that owns it::

        containers:
    - name: web
      image: registry.example.com/web

This reader builds the same located tree as ``tree.compose`` from lines alone. It knows block
mappings, block sequences, single-line scalars (plain or quoted) and skips block scalars; flow
collections are kept as opaque text. A ``- `` item right after an empty ``key:`` belongs to that
key whatever its column. It is used only when the YAML parser refuses the file.

``comment_start`` and ``key_end`` are the one definition of a comment and a key on a line; the
diff classifier's line tracker (``bot.adapters.git.yamlpaths``) reads lines with them too."""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.manifests.tree import Mapping, Node, Scalar, Sequence, resolve_text, split_lines


class NotReadable(ValueError):
    """The lines do not form a structure this reader understands."""


@dataclass
class _Pending:
    """A key (or list item) whose value starts on a later line."""

    owner: Mapping | Sequence
    column: int  # column of the key or of the dash
    at: int  # character index right after the ``:`` or ``-``


def comment_start(line: str, start: int) -> int:
    """Index where a trailing comment starts (or the line's length), respecting quotes."""
    quote = ""
    i = start
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'" and (i == start or line[i - 1] in " [{,:"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
        i += 1
    return len(line)


def key_end(line: str, start: int) -> int:
    """Index of the ``:`` that ends a key starting at ``start``, or -1 when the line is a scalar."""
    if line[start : start + 1] in ('"', "'"):
        close = line.find(line[start], start + 1)
        if close > 0 and line[close + 1 : close + 2] == ":":
            return close + 1
        return -1
    if line[start : start + 1] in ("{", "[", "|", ">", "&", "*", "!", "#"):
        return -1
    end = comment_start(line, start)
    i = line.find(":", start, end)
    while i >= 0:
        if i + 1 == end or line[i + 1] in " \t":
            return i
        i = line.find(":", i + 1, end)
    return -1


def _scalar(line: str, offset: int, start: int) -> Scalar:
    """The value text from ``start`` to the comment or the line's end."""
    end = comment_start(line, start)
    text = line[start:end].rstrip()
    style = text[:1] if text[:1] in ('"', "'") else ""
    value = resolve_text(text) if text else None
    return Scalar(value, offset + start, offset + start + len(text), style)


def _key(line: str, offset: int, start: int, colon: int) -> Scalar:
    text = line[start:colon].rstrip()
    if text[:1] in ('"', "'"):
        return Scalar(text[1:-1], offset + start, offset + start + len(text), text[0])
    return Scalar(text, offset + start, offset + start + len(text))


def parse_lines(text: str) -> list[Node | None]:
    """Located trees of every document, read line by line; raises NotReadable."""
    documents: list[Node | None] = []
    root: Node | None = None
    stack: list[Mapping | Sequence] = []
    pending: _Pending | None = None
    block_column = -1  # inside a block scalar: lines more indented than this belong to it
    offset = 0

    def attach(owner: Mapping | Sequence, value: Node) -> None:
        if isinstance(owner, Mapping):
            owner.entries[-1] = (owner.entries[-1][0], value)
        else:
            owner.items[-1] = value

    def close_pending() -> None:
        nonlocal pending
        if pending is not None:
            attach(pending.owner, Scalar(None, pending.at, pending.at))
            pending = None

    for raw in split_lines(text):
        line = raw.rstrip("\r\n")
        here, offset = offset, offset + len(raw)
        body = line.lstrip(" ")
        col = len(line) - len(body)
        if block_column >= 0:
            if not body.strip() or col > block_column:
                continue
            block_column = -1
        if not body.strip() or body.startswith("#"):
            continue
        if col == 0 and (line.startswith("---") or line.startswith("...")):
            close_pending()
            if root is not None:
                documents.append(root)
            root, stack = None, []
            continue
        if body.startswith("\t") or line.startswith("%"):
            raise NotReadable(f"cannot read line {len(text[:here].splitlines()) + 1}")
        is_item = body == "-" or body.startswith("- ")
        # find the collection this line belongs to
        if pending is not None and (is_item or col > pending.column):
            child: Mapping | Sequence = Sequence(column=col) if is_item else Mapping(column=col)
            attach(pending.owner, child)
            stack.append(child)
            pending = None
        elif root is None:
            root = Sequence(column=col) if is_item else Mapping(column=col)
            stack = [root]
        else:
            close_pending()
            want = Sequence if is_item else Mapping
            while stack and not (isinstance(stack[-1], want) and stack[-1].column == col):
                stack.pop()
            if not stack:
                raise NotReadable(
                    f"line {len(text[:here].splitlines()) + 1} does not line up with any parent"
                )
        owner = stack[-1]
        pos = col
        while isinstance(owner, Sequence) and (line[pos : pos + 2] == "- " or line[pos:] == "-"):
            owner.items.append(Scalar(None, here + pos + 1, here + pos + 1))
            dash = pos
            pos += 1
            while pos < len(line) and line[pos] == " ":
                pos += 1
            if pos >= len(line) or line[pos] == "#":
                pending = _Pending(owner, dash, here + dash + 1)
                break
            nested: Mapping | Sequence | None = None
            if line[pos : pos + 2] == "- " or line[pos:] == "-":
                nested = Sequence(column=pos)
            elif key_end(line, pos) >= 0:
                nested = Mapping(column=pos)
            if nested is None and line[pos] in "|>":
                owner.items[-1] = Scalar(None, here + pos, here + len(line), line[pos])
                block_column = dash
                break
            if nested is None:
                owner.items[-1] = _scalar(line, here, pos)
                break
            attach(owner, nested)
            stack.append(nested)
            owner = nested
        if pending is not None or not isinstance(owner, Mapping):
            continue
        colon = key_end(line, pos)
        if colon < 0:
            raise NotReadable(f"line {len(text[:here].splitlines()) + 1} is neither a key nor a list item")
        key = _key(line, here, pos, colon)
        start = colon + 1
        while start < len(line) and line[start] == " ":
            start += 1
        owner.entries.append((key, Scalar(None, here + colon + 1, here + colon + 1)))
        if start >= len(line) or line[start] == "#":
            pending = _Pending(owner, pos, here + colon + 1)
        elif line[start] in "|>":
            owner.entries[-1] = (key, Scalar(None, here + start, here + len(line), line[start]))
            block_column = pos
        else:
            owner.entries[-1] = (key, _scalar(line, here, start))
    close_pending()
    if root is not None or not documents:
        documents.append(root)
    return documents
