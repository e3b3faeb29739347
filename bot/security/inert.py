"""Untrusted text made inert for Slack's mrkdwn: it cannot ping anyone, pose as a link, or format
itself as something Tugboat said.

Slack reads ``<…>`` as control sequences: ``<@U…>`` mentions a person, ``<!channel>`` and
``<!here>`` notify everyone, ``<#C…>`` names a channel, ``<!subteam^…>`` a group, and
``<https://…|text>`` is a link whose text can say anything. Slack's own escaping (``&``, ``<``,
``>`` as entities) turns every one of them into plain characters. Bare URLs would still be
linked by Slack's clients, so their scheme is defanged (``https[:]//``), as security teams
write indicators, and ``www.`` becomes ``www[.]``. Secrets are redacted first, while URLs still
look like URLs to the detectors (credentials in a URL are one of the patterns).

Block text objects are sent ``verbatim``, so a bare domain there (``evil.example``) stays text.
A message's fallback ``text`` (what notifications show, and the message itself when it has no
blocks) has no such switch: Slack's clients link every bare domain in it. ``unlinked`` makes that
text safe at the one door to Slack: outside Slack's explicit markup (``<@U…>``, ``<url|text>``,
which untrusted text cannot carry once made inert) domains are written ``evil[.]example`` and
schemes defanged, so nothing quoted from an alert, a log line or a commit becomes a link.
"""

from __future__ import annotations

import re

from bot.security.redact import redact

_SCHEME = re.compile(r"\b(https?|s?ftps?|ssh|git|file|wss?|slack):(?=//)", re.IGNORECASE)
_MAILTO = re.compile(r"\bmailto:", re.IGNORECASE)
_WWW = re.compile(r"\bwww\.", re.IGNORECASE)
# Slack's explicit markup: a mention, a channel, a broadcast or a link Tugboat wrote.
_MARKUP = re.compile(r"(<[^<>]*>)")
# A bare domain as Slack's clients link it: dotted labels ending in a name (not ``v1.2``, ``e.g``).
# Endings of file names that are no top-level domain, so no client links them (``values.yaml``,
# ``remote.git``); a file ending that is one (``.sh``, ``.md``, ``.py``) is defanged like a domain.
_NOT_DOMAINS = frozenset(
    {"yaml", "yml", "json", "git", "txt", "log", "toml", "cfg", "ini", "lock", "diff", "patch", "tpl", "conf"}
)
_DOMAIN = re.compile(r"(?<![\w-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}(?![\w-])", re.IGNORECASE)


def inert_mrkdwn(text: str) -> str:
    """``text`` shown as data in a Slack message: no mentions, no links, no broadcast."""
    text = redact(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _defang(text)


def unlinked(text: str) -> str:
    """A message's fallback ``text``, which Slack does not read verbatim: every bare domain and
    URL outside Slack's explicit markup defanged (``evil[.]example``, ``https[:]//``), the
    markup itself (Tugboat's own mentions and links) kept."""
    parts = _MARKUP.split(text)
    return "".join(p if i % 2 else _DOMAIN.sub(_dotted, _defang(p)) for i, p in enumerate(parts))


def _defang(text: str) -> str:
    text = _MAILTO.sub("mailto[:]", _SCHEME.sub(r"\1[:]", text))
    return _WWW.sub(lambda m: m.group(0)[:3] + "[.]", text)


def _dotted(found: re.Match[str]) -> str:
    name = found.group(0)
    return name if name.rsplit(".", 1)[-1].lower() in _NOT_DOMAINS else name.replace(".", "[.]")
