"""Scalar text in the style of the value it replaces, and unified diffs that ``git apply`` accepts."""

from __future__ import annotations

import json
from difflib import SequenceMatcher
from typing import Any

import yaml

from bot.adapters.manifests.tree import Scalar, resolve_plain, split_lines

_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")


def _plain_form(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".eEn") else text + ".0"
    return str(value)


def _yaml11(text: str) -> Any:
    """What YAML 1.1 loaders (go-yaml v2, PyYAML, hence kubectl) make of a plain scalar."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def plain_means_string(text: str) -> bool:
    """True when ``text`` written plain is read back as this very string by YAML 1.1 and 1.2 loaders."""
    if not text or text != text.strip() or "\n" in text or "\r" in text or "\t" in text:
        return False
    if text[0] in _INDICATORS and not (text[0] in "-?:" and len(text) > 1 and text[1] != " "):
        return False
    if ": " in text or " #" in text or text.endswith(":"):
        return False
    return resolve_plain(text) == text and _yaml11(text) == text


def quote(text: str, style: str) -> str:
    if style == "'" and "\n" not in text:
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text, ensure_ascii=False)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "str"


def render_scalar(value: Any, old: Scalar | None) -> str:
    """Text for ``value`` that keeps the old scalar's style: quotes stay quotes, a plain number
    stays a plain number, and a string that would read as something else gets quoted."""
    text = _plain_form(value)
    style = old.style if old is not None else ""
    if style in ('"', "'"):
        return quote(text, style)
    if not isinstance(value, str):
        return text
    if plain_means_string(value):
        return value
    meaning = resolve_plain(value)
    if (
        old is not None
        and meaning != value
        and _kind(meaning) == _kind(old.value) == _kind(_yaml11(value))
        and meaning == _yaml11(value)
    ):
        return value  # a plain number replacing a plain number (cpu: 2 -> cpu: 3)
    return quote(value, '"')


def render_key(key: str) -> str:
    return key if plain_means_string(key) else quote(key, '"')


def matches(requested: Any, got: Any) -> bool:
    """Whether the value read back is the one asked for (a quoted "3" is the asked-for 3)."""
    if _kind(requested) == _kind(got) == "number":
        return bool(abs(float(requested) - float(got)) < 1e-9)
    if requested == got and _kind(requested) == _kind(got):
        return True
    return (isinstance(got, str) and got == _plain_form(requested)) or (
        isinstance(requested, str) and _plain_form(got) == requested
    )


# --- diffs ----------------------------------------------------------------------------------------


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1
    if length == 0:
        return f"{first - 1},0"
    return f"{first}" if length == 1 else f"{first},{length}"


def unified_diff(path_in_repo: str, old: str, new: str, context: int = 3) -> str:
    """A git-style unified diff of one file (a/ b/ prefixes, CRLF kept, missing final newline marked)."""
    a, b = split_lines(old), split_lines(new)
    if a == b:
        return ""
    path = path_in_repo.lstrip("/")
    out = [f"diff --git a/{path} b/{path}\n", f"--- a/{path}\n", f"+++ b/{path}\n"]
    for group in SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        out.append(f"@@ -{_range(group[0][1], group[-1][2])} +{_range(group[0][3], group[-1][4])} @@\n")
        for tag, a1, a2, b1, b2 in group:
            lines: list[tuple[str, str]] = []
            if tag == "equal":
                lines = [(" ", line) for line in a[a1:a2]]
            else:
                lines = [("-", line) for line in a[a1:a2]] + [("+", line) for line in b[b1:b2]]
            for prefix, line in lines:
                out.append(prefix + line)
                if not line.endswith("\n"):
                    out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def changed_line_count(old: str, new: str) -> tuple[int, int]:
    """(old lines replaced or removed, new lines added) between two texts."""
    removed = added = 0
    for tag, a1, a2, b1, b2 in SequenceMatcher(
        None, split_lines(old), split_lines(new), autojunk=False
    ).get_opcodes():
        if tag != "equal":
            removed += a2 - a1
            added += b2 - b1
    return removed, added
