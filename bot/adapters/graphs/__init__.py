"""Evidence graphs rendered as PNG with matplotlib (dashboard-like panels)."""

from bot.adapters.graphs.render import render, render_all

__all__ = ["render", "render_all"]
