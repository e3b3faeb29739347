"""Redact secrets from text before it reaches a model or Slack.

Two layers: detect-secrets' maintained regex detectors (AWS, Azure storage, Slack, GitLab,
SendGrid, ...) and patterns for formats it misses or matches only partly (fine-grained GitHub
tokens, current OpenAI keys, whole JWTs, private-key blocks, credentials in URLs, headers and
key/value pairs). Entropy detectors are deliberately not used: they flag git SHAs, UUIDs and pod
hashes, which investigations must keep. Each hit becomes ``[REDACTED:<type>]``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_KV_KEYS = (
    r"password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key"
    r"|private[_-]?key|client[_-]?secret|credentials?|auth[_-]?token|session[_-]?id|cookie"
)
# A value the key/value rule leaves alone: empty, already redacted, a placeholder, a reference
# to a variable, a boolean/null, or a small number (counts like ``max_token=512`` are common).
_ALLOWED_VALUE = re.compile(
    r"^(?:|\[REDACTED:[^\]]*\]?|\*+|x+|<[^>]*>?|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*\}\}|true|false|null"
    r"|none|nil|\d{1,6}|redacted|changeme_placeholder)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0  # which group is the secret (0: the whole match)
    check_allowlist: bool = False


def _own_rules() -> list[_Rule]:
    c = re.compile
    return [
        _Rule(
            "private_key",
            c(
                r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----.*?"
                r"(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|\Z)",
                re.S,
            ),
        ),
        _Rule("github_token", c(r"\bgithub_pat_[A-Za-z0-9_]{22,}")),
        _Rule("github_token", c(r"\bgh[pousr]_[A-Za-z0-9_]{30,}")),
        _Rule("slack_token", c(r"\bxox[abposre]-[A-Za-z0-9-]{10,}")),
        _Rule("slack_token", c(r"\bxapp-\d-[A-Za-z0-9-]{10,}")),
        _Rule(
            "slack_webhook", c(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+")
        ),
        _Rule("stripe_key", c(r"\b(?:sk|rk|pk)_(?:live|test)_[0-9a-zA-Z]{16,}")),
        _Rule("stripe_key", c(r"\bwhsec_[0-9a-zA-Z]{16,}")),
        _Rule("openai_key", c(r"\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}")),
        _Rule("gcp_api_key", c(r"\bAIza[0-9A-Za-z_-]{35}")),
        _Rule("gcp_oauth_token", c(r"\bya29\.[0-9A-Za-z_-]{20,}")),
        _Rule("azure_client_secret", c(r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}")),
        _Rule("azure_sas", c(r"[?&]sig=([A-Za-z0-9%+/=]{20,})"), group=1),
        _Rule("azure_storage_key", c(r"AccountKey=([A-Za-z0-9+/=]{40,})"), group=1),
        _Rule("jwt", c(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
        _Rule(
            "authorization",
            c(r"(?i)\b(?:bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{12,})"),
            group=1,
        ),
        _Rule(
            "authorization",
            c(
                r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?!bearer\b|basic\b|token\b)([^\s\"',;]{8,})"
            ),
            group=1,
        ),
        _Rule("url_password", c(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s\"']+:([^@/?#\s\"']+)@"), group=1),
        _Rule(
            "password",
            c(rf"(?i)\"[A-Za-z0-9_.-]*(?:{_KV_KEYS})\"\s*:\s*\"((?:[^\"\\]|\\.)*)\""),
            group=1,
            check_allowlist=True,
        ),
        _Rule(
            "password",
            c(
                rf"(?i)(?<![A-Za-z0-9])[A-Za-z0-9_.-]*(?:{_KV_KEYS})(?![A-Za-z0-9])\s*[:=]\s*[\"']?([^\s\"'&,;}}]+)"
            ),
            group=1,
            check_allowlist=True,
        ),
    ]


# detect-secrets detectors whose whole match is the secret and whose patterns are specific
# enough for free text (the keyword/entropy ones are covered by the rules above).
_DETECT_SECRETS = {
    "aws": ("AWSKeyDetector", "aws_key"),
    "azure_storage_key": ("AzureStorageKeyDetector", "azure_storage_key"),
    "gitlab_token": ("GitLabTokenDetector", "gitlab_token"),
    "openai": ("OpenAIDetector", "openai_key"),
    "pypi_token": ("PypiTokenDetector", "pypi_token"),
    "sendgrid": ("SendGridDetector", "sendgrid_key"),
    "slack": ("SlackDetector", "slack_token"),
    "square_oauth": ("SquareOAuthDetector", "square_oauth"),
    "discord": ("DiscordBotTokenDetector", "discord_token"),
    "mailchimp": ("MailchimpDetector", "mailchimp_key"),
}


def _library_rules() -> list[_Rule]:
    import importlib

    rules: list[_Rule] = []
    for module, (cls_name, kind) in _DETECT_SECRETS.items():
        detector = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls_name)()
        for pattern in detector.denylist:
            # AWS's second pattern captures the 40-character secret key after its keyword.
            group = 1 if pattern.groups and kind == "aws_key" else 0
            rules.append(_Rule(kind, pattern, group=group))
    return rules


@lru_cache(maxsize=1)
def _rules() -> tuple[_Rule, ...]:
    return (*_own_rules(), *_library_rules())


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


def find_secrets(text: str) -> list[Finding]:
    """Non-overlapping secret spans, in order (the earliest and then longest span wins)."""
    spans: list[Finding] = []
    for rule in _rules():
        for m in rule.pattern.finditer(text):
            start, end = m.span(rule.group)
            if start < 0 or end <= start:
                continue
            if rule.check_allowlist and _ALLOWED_VALUE.match(m.group(rule.group).strip()):
                continue
            spans.append(Finding(rule.kind, start, end))
    spans.sort(key=lambda f: (f.start, -(f.end - f.start)))
    merged: list[Finding] = []
    for f in spans:
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            if f.end > last.end:
                merged[-1] = Finding(last.kind, last.start, f.end)
            continue
        merged.append(f)
    return merged


def redact_counted(text: str) -> tuple[str, Counter[str]]:
    """The text with every secret replaced, and how many of each kind were replaced."""
    counts: Counter[str] = Counter()
    if not text:
        return text, counts
    out: list[str] = []
    pos = 0
    for f in find_secrets(text):
        out.append(text[pos : f.start])
        out.append(f"[REDACTED:{f.kind}]")
        counts[f.kind] += 1
        pos = f.end
    out.append(text[pos:])
    return "".join(out), counts


def redact(text: str) -> str:
    return redact_counted(text)[0]


def redact_all(texts: Iterable[str]) -> list[str]:
    return [redact(t) for t in texts]


def redact_data(value: Any) -> Any:
    """Redact every string inside nested dicts/lists/tuples (e.g. a JSON document for Slack)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_data(v) for v in value)
    return value


class StreamRedactor:
    """Redacts text that arrives in pieces (a streamed answer).

    Only whole lines are released: secrets and their context (``password: x``, ``Authorization:
    Bearer x``) sit on one line, so a piece boundary can never split one past the redactor. An
    open private-key block is held until its END line.
    """

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, piece: str) -> str:
        self._pending += piece
        cut = self._pending.rfind("\n")
        begin = self._pending.find("-----BEGIN")
        if (
            begin >= 0
            and "PRIVATE KEY" in self._pending[begin:]
            and not re.search(r"-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----[^\n]*\n", self._pending[begin:])
        ):
            cut = min(cut, begin - 1)
        if cut < 0:
            return ""
        ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
        return redact(ready)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return redact(rest)
