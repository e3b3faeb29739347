"""Apply a proposal's unified diff to file contents in memory, with ``git apply`` doing the work.

Used where there is no clone to apply into: the GitHub host (contents come from the API) and
the policy scan (contents come from a checkout that must not be written), as its ``ApplyDiff``.
``git apply`` runs in a throwaway repository holding only the touched files, so it never sees
anything else. Which files a diff names is ``bot.domain.diff``.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bot.adapters.git.history import SAFE_CONFIG
from bot.adapters.git.runner import GitFailed, git
from bot.domain.diff import safe_path, touched_files
from bot.domain.errors import ConflictError, InvalidInput


def apply_diff(diff: str, originals: Mapping[str, bytes | None]) -> dict[str, bytes | None]:
    """The new contents of every file ``diff`` touches (None for a deleted file).

    ``originals`` maps each touched path to its current bytes (None when it does not exist).
    Raises ConflictError when the diff does not apply to those contents.
    """
    files = touched_files(diff)
    if re.search(r"^(new file |new )?mode 120000", diff, re.MULTILINE):
        raise InvalidInput("the diff creates a symbolic link; proposals may only edit regular files")
    with tempfile.TemporaryDirectory(prefix="tugboat-apply-") as tmp:
        root = Path(tmp)
        # An empty repository stops git from finding an enclosing one and applying there.
        git(["init", "--quiet", str(root)], config=SAFE_CONFIG)
        for path, content in originals.items():
            if content is None:
                continue
            target = root / safe_path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        try:
            git(
                ["apply", "--whitespace=nowarn", "-"],
                root,
                input=diff if diff.endswith("\n") else diff + "\n",
                config=SAFE_CONFIG,
            )
        except GitFailed as exc:
            lines = [line.strip() for line in exc.stderr.splitlines() if line.strip()]
            detail = " / ".join(lines[-3:]) or "git apply failed"
            raise ConflictError(
                f"the diff does not apply to the current files: {detail}. "
                "The files changed since it was computed; investigate again."
            ) from None
        result: dict[str, bytes | None] = {}
        for patch in files:
            if patch.old and patch.old != patch.new:
                result[patch.old] = None
            if patch.new:
                target = root / patch.new
                if target.is_symlink():
                    raise InvalidInput(f"the diff makes {patch.new!r} a symbolic link; that is not allowed")
                result[patch.new] = target.read_bytes()
        return result


def blob_sha(content: bytes) -> str:
    """The git object id of a blob with ``content`` (what GitHub reports as a file's sha)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
