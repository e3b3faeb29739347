"""Log sources: Loki over HTTP, and JSON Lines files (scenario replays, exported logs)."""

from bot.adapters.logs.jsonl import JsonlLogSource
from bot.adapters.logs.loki import LokiLogSource

__all__ = ["JsonlLogSource", "LokiLogSource"]
