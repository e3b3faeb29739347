"""Untrusted text made inert for Slack's mrkdwn: it cannot ping anyone, pose as a link, or format
itself as something Tugboat said.

Slack reads ``<…>`` as control sequences: ``<@U…>`` mentions a person, ``<!channel>`` and
``<!here>`` notify everyone, ``<#C…>`` names a channel, ``<!subteam^…>`` a group, and
``<https://…|text>`` is a link whose text can say anything. Slack's own escaping (``&``, ``<``,
``>`` as entities) turns every one of them into plain characters. Bare URLs would still be
linked by Slack's clients, so their scheme is defanged (``https[:]//``), as security teams
write indicators, and ``www.`` becomes ``www[.]``. Secrets are redacted first, while URLs still
look like URLs to the detectors (credentials in a URL are one of the patterns).
"""

from __future__ import annotations

import re

from bot.security.redact import redact

_SCHEME = re.compile(r"\b(https?|s?ftps?|ssh|git|file|wss?|slack):(?=//)", re.IGNORECASE)
_MAILTO = re.compile(r"\bmailto:", re.IGNORECASE)
_WWW = re.compile(r"\bwww\.", re.IGNORECASE)


def inert_mrkdwn(text: str) -> str:
    """``text`` shown as data in a Slack message: no mentions, no links, no broadcast."""
    text = redact(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MAILTO.sub("mailto[:]", _SCHEME.sub(r"\1[:]", text))
    return _WWW.sub(lambda m: m.group(0)[:3] + "[.]", text)
