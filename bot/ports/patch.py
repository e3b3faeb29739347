"""Applying a proposal's unified diff to file contents in memory (``bot.adapters.git.patch``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

# (diff, path -> current bytes or None) -> path -> bytes after the diff, None for a deleted file.
# ConflictError when the diff does not apply to those contents; InvalidInput when it would make
# a symbolic link or names a path outside the repository.
ApplyDiff = Callable[[str, Mapping[str, bytes | None]], dict[str, bytes | None]]
