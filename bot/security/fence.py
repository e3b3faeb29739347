"""Fence untrusted text so a model reads it as data, never as instructions.

Each request gets a random boundary. Fenced content is redacted, loses every occurrence of the
boundary (so it cannot close its fence early) and has fence-like markers defused (so it cannot
open a fake one that looks trusted). The system prompt says what fences mean; the guarantees
that matter (no merge tool, typed proposals, validation) live in code, not in this text.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from bot.security.redact import redact

_LABEL = re.compile(r"[^a-zA-Z0-9_.:/-]+")
# Anything that resembles our markers, in any case, so a planted "<<<END abc>>>" stays inert.
_MARKER = re.compile(r"<{3,}|>{3,}|\bEND[-_ ]?DATA\b|\bBEGIN[-_ ]?DATA\b", re.IGNORECASE)


def _new_boundary() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Fence:
    """One request's fencing: all untrusted text in the request shares the boundary."""

    boundary: str = field(default_factory=_new_boundary)

    def open(self, label: str) -> str:
        return f"<<<DATA {self.boundary} source={_LABEL.sub('_', label)[:60]}>>>"

    @property
    def close(self) -> str:
        return f"<<<END {self.boundary}>>>"

    def clean(self, text: str) -> str:
        """Redacted text with the boundary and marker look-alikes removed."""
        text = redact(text)
        # Remove the boundary case-insensitively, repeatedly: removing one occurrence must not
        # join two halves into a new one.
        pattern = re.compile(re.escape(self.boundary), re.IGNORECASE)
        while pattern.search(text):
            text = pattern.sub("", text)
        return _MARKER.sub("~", text)

    def wrap(self, label: str, text: str) -> str:
        return f"{self.open(label)}\n{self.clean(text)}\n{self.close}"


def fence(label: str, text: str, f: Fence) -> str:
    return f.wrap(label, text)
