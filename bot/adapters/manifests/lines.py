"""The one tolerant, indentation-aware line reader for YAML-ish text a parser may refuse.

Repositories hold files a YAML parser rejects, typically a list written less indented than the key
that owns it (kubectl accepts it after templating)::

        containers:
    - name: web
      image: registry.example.com/web

The reader follows indentation, ``key:`` lines, ``- `` items and block scalars in one pass, and
gives two views of the same reading:

- ``parse_lines`` builds the located tree ``tree.compose`` builds, and refuses (``NotReadable``)
  lines that do not line up: the editor's fallback when the YAML parser refuses a file.
- ``read_lines`` never refuses: it tells which keys and list items enclose every line, for the
  diff classifier (``bot.adapters.git.yamlpaths``), since a diff is about lines anyway.

Flow collections are kept as one value. A ``- `` item right after an empty ``key:`` belongs to that
key whatever its column, unless an enclosing list already holds items at that column."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.adapters.manifests.tree import Mapping, Node, Scalar, Sequence, resolve_text, split_lines

_BLOCK = re.compile(r"[|>][0-9+-]*")


class NotReadable(ValueError):
    """The lines do not form a structure this reader understands."""


@dataclass(frozen=True, slots=True)
class ReadLine:
    """One line as the reader saw it."""

    doc: int  # how many ``---`` came before it
    path: tuple[str | int, ...]  # the enclosing keys, list items as their number in reading order
    value: str | None  # the value text as written: quotes kept, comment dropped
    keyed: bool  # the line holds a key: it is the path's last step
    significant: bool  # False for blank and comment lines and separators
    block: int | None = None  # inside a block scalar: the index of the line that opened it


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


def parse_lines(text: str) -> list[Node | None]:
    """Located trees of every document, read line by line; raises NotReadable."""
    return _Reader(strict=True).read(split_lines(text))


def read_lines(text: str) -> list[ReadLine]:
    """What encloses each line of ``text``, one entry per ``str.splitlines`` line (as a diff
    counts them); never refuses a line."""
    reader = _Reader(strict=False)
    reader.read(text.splitlines(keepends=True))
    return reader.lines


@dataclass(slots=True)
class _Frame:
    """An open key or list item: the lines below it that are more indented belong to it."""

    indent: int  # column of the key or of the dash
    kind: str  # "key" or "item"
    label: str | int
    owner: Mapping | Sequence  # the collection holding the entry or item
    slot: int  # its index there
    open: bool = False  # its value starts on a later line: the first child makes it
    block: bool = False  # its value is a block scalar: deeper lines are text
    opened: int = 0  # for a block scalar: the index of the line that opened it
    node: Mapping | Sequence | None = None  # the collection its children go into
    child_indent: int | None = None
    is_seq: bool = False


def _contains(stack: list[_Frame], indent: int, is_item: bool) -> bool:
    """Whether the innermost frame still encloses a line at ``indent``."""
    frame = stack[-1]
    if frame.kind == "item" and frame.node is None and not (frame.open or frame.block):
        return False  # a scalar item holds nothing below it
    if frame.kind == "item" or frame.block:
        return indent > frame.indent
    if frame.child_indent is None:
        if indent > frame.indent or (is_item and indent == frame.indent):
            return True
        # A list dedented below its key belongs to that key unless an enclosing list already
        # owns items at this column.
        return is_item and not any(
            (f.kind == "item" and f.indent == indent) or (f.is_seq and f.child_indent == indent)
            for f in stack[:-1]
        )
    if frame.is_seq:
        # a list dedented below its key ends at a line back at the key's column
        deeper = indent > frame.child_indent and indent > frame.indent
        return deeper or (indent == frame.child_indent and is_item)
    return indent >= frame.child_indent


def _dash(line: str, pos: int) -> bool:
    """Whether a list item's ``-`` stands at ``pos``."""
    return line[pos : pos + 2] == "- " or line[pos:].rstrip() == "-"


def _attach(owner: Mapping | Sequence, slot: int, value: Node) -> None:
    if isinstance(owner, Mapping):
        owner.entries[slot] = (owner.entries[slot][0], value)
    else:
        owner.items[slot] = value


class _Reader:
    """One pass over the lines; strict readers refuse what tolerant ones read as best they can."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.lines: list[ReadLine] = []
        self.stack: list[_Frame] = []
        self.root: Mapping | Sequence | None = None
        self.doc = 0
        self.items = 0

    def read(self, lines: list[str]) -> list[Node | None]:
        documents: list[Node | None] = []
        offset = 0
        for number, raw in enumerate(lines):
            line = raw.rstrip("\r\n")
            here, offset = offset, offset + len(raw)
            body = line.lstrip(" ")
            col = len(line) - len(body)
            stripped = body.strip()
            if col == 0 and line[:3] in ("---", "...") and line[3:4] in ("", " ", "\t"):
                if self.root is not None:
                    documents.append(self.root)
                self.root, self.stack, self.doc = None, [], self.doc + 1
                self.note((), None, False)
                continue
            stack = self.stack
            if stack and stack[-1].block:
                if not stripped or col > stack[-1].indent:
                    self.note(self.labels(), stripped, bool(stripped), block=stack[-1].opened)
                    continue
                stack.pop()  # the block scalar ended
            if not stripped or stripped.startswith("#"):
                self.note(self.labels(), None, False)
                continue
            if self.strict and (body.startswith("\t") or line.startswith("%")):
                raise NotReadable(f"cannot read line {number + 1}")
            self.line(line, here, col, len(line) - len(line.lstrip()), number)
        if self.root is not None or not documents:
            documents.append(self.root)
        return documents

    def labels(self) -> tuple[str | int, ...]:
        return tuple(f.label for f in self.stack)

    def note(
        self,
        path: tuple[str | int, ...],
        value: str | None,
        significant: bool,
        keyed: bool = False,
        block: int | None = None,
    ) -> None:
        self.lines.append(ReadLine(self.doc, path, value or None, keyed, significant, block))

    def refuse(self, number: int, why: str) -> None:
        if self.strict:
            raise NotReadable(f"line {number + 1} {why}")

    def target(self, col: int, is_item: bool, number: int) -> Mapping | Sequence:
        """The collection a line at ``col`` goes into, found by indentation."""
        stack = self.stack
        while stack and not _contains(stack, col, is_item):
            stack.pop()
        want = Sequence if is_item else Mapping
        found: Mapping | Sequence | None
        if not stack:
            if self.root is None:
                self.root = want(column=col)
            found = self.root
        else:
            top = stack[-1]
            if top.child_indent is None:
                top.child_indent, top.is_seq = col, is_item
            if top.node is None and top.open:
                top.node = want(column=col)
                _attach(top.owner, top.slot, top.node)
            found = top.node
        if not isinstance(found, want) or found.column != col:
            self.refuse(number, "does not line up with any parent")
            if not isinstance(found, want):
                found = want(column=col)  # read on, into a collection no document holds
        return found

    def line(self, line: str, here: int, col: int, pos: int, number: int) -> None:
        """One line that holds list items, a key or a value."""
        owner = self.target(col, _dash(line, pos), number)
        while isinstance(owner, Sequence) and _dash(line, pos):
            self.items += 1
            dash = pos
            owner.items.append(Scalar(None, here + dash + 1, here + dash + 1))
            item = _Frame(dash, "item", self.items, owner, len(owner.items) - 1)
            self.stack.append(item)
            pos = len(line) - len(line[dash + 1 :].lstrip())
            if pos >= len(line) or line[pos] == "#":
                item.open = True
                self.note(self.labels(), None, True)
                return
            if _dash(line, pos):
                item.node = Sequence(column=pos)
            elif key_end(line, pos) >= 0:
                item.node = Mapping(column=pos)
            else:
                owner.items[-1], text = self.value(line, here, pos, item, number)
                self.note(self.labels(), text, True)
                return
            _attach(owner, item.slot, item.node)
            owner = item.node
        colon = key_end(line, pos)
        if colon < 0 or not isinstance(owner, Mapping):
            self.refuse(number, "is neither a key nor a list item")
            self.note(self.labels(), line[pos : comment_start(line, pos)].strip(), True)
            return
        text = line[pos:colon].rstrip()
        quoted = text[:1] in ('"', "'")
        style = text[0] if quoted else ""
        key = Scalar(text[1:-1] if quoted else text, here + pos, here + pos + len(text), style)
        path = (*self.labels(), str(key.value))
        start = len(line) - len(line[colon + 1 :].lstrip())
        owner.entries.append((key, Scalar(None, here + colon + 1, here + colon + 1)))
        entry = _Frame(pos, "key", str(key.value), owner, len(owner.entries) - 1)
        if start >= len(line) or line[start] == "#":
            entry.open = True
            self.stack.append(entry)
            self.note(path, None, True, keyed=True)
            return
        scalar, text = self.value(line, here, start, entry, number)
        owner.entries[-1] = (key, scalar)
        self.note(path, text, True, keyed=True)

    def value(self, line: str, here: int, start: int, frame: _Frame, number: int) -> tuple[Scalar, str]:
        """The value from ``start`` to the comment, and its text; a block scalar opens ``frame``
        for the lines below (its span runs to the line's end: a block is never edited)."""
        text = line[start : comment_start(line, start)].rstrip()
        if _BLOCK.fullmatch(text):
            frame.block, frame.opened = True, number
            if frame.kind == "key":
                self.stack.append(frame)
            return Scalar(None, here + start, here + len(line), text[0]), text
        style = text[:1] if text[:1] in ('"', "'") else ""
        value = (resolve_text(text) if self.strict else text) if text else None
        return Scalar(value, here + start, here + start + len(text), style), text
