"""Interfaces the core needs from the outside world. Adapters implement them."""

from bot.ports.changes import ChangeHost, ChangeRef, MergeResult
from bot.ports.gitrepo import Commit, FileChange, GitHistory
from bot.ports.logs import LogLine, LogQuery, LogSource
from bot.ports.metrics import MetricsSource
from bot.ports.store import Store

__all__ = [
    "ChangeHost",
    "ChangeRef",
    "Commit",
    "FileChange",
    "GitHistory",
    "LogLine",
    "LogQuery",
    "LogSource",
    "MergeResult",
    "MetricsSource",
    "Store",
]
