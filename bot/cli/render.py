"""Show Block Kit messages in a terminal, as the demo and dry runs do instead of posting."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text

_CODE = re.compile(r"```(.*?)```", re.S)


def _mrkdwn(text: str) -> Text:
    """Slack mrkdwn to rich markup: *bold*, _italic_, `code`."""
    markup = escape(text)
    markup = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"[bold]\1[/bold]", markup)
    markup = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"[italic]\1[/italic]", markup)
    markup = re.sub(r"`([^`\n]+)`", r"[cyan]\1[/cyan]", markup)
    return Text.from_markup(markup)


def _block(block: dict[str, Any]) -> list[Any]:
    kind = block.get("type")
    if kind == "header":
        return [Text(block["text"]["text"], style="bold")]
    if kind == "section":
        text = block["text"]["text"]
        parts: list[Any] = []
        last = 0
        for match in _CODE.finditer(text):
            if text[last : match.start()].strip():
                parts.append(_mrkdwn(text[last : match.start()]))
            parts.append(Syntax(match.group(1), "diff", theme="ansi_dark", word_wrap=True))
            last = match.end()
        if text[last:].strip():
            parts.append(_mrkdwn(text[last:]))
        return parts
    if kind == "context":
        return [Text.assemble(*((_mrkdwn(e.get("text", "")).plain + "  ", "dim") for e in block["elements"]))]
    if kind == "divider":
        return [Rule(style="dim")]
    if kind == "actions":
        labels = [f"[ {e['text']['text']} ]" for e in block.get("elements", [])]
        return [Text("   ".join(labels), style="bold reverse")]
    if kind == "image":
        return [Text(f"(graph: {block.get('alt_text', block.get('image_url', ''))})", style="dim")]
    return []


def print_message(console: Console, blocks: list[dict[str, Any]], title: str) -> None:
    items: list[Any] = []
    for block in blocks:
        items.extend(_block(block))
    console.print(Panel(Group(*items), title=title, title_align="left", border_style="blue"))
