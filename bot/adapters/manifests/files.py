"""Which files of a repository the manifest scan reads: what git tracks or would track.

git itself answers (``git ls-files``), so ``.git``, everything ``.gitignore`` and
``info/exclude`` ignore, and files being written by a concurrent git command are left out
without Tugboat parsing ignore rules. A directory outside git is walked, ``.git`` skipped.
"""

from __future__ import annotations

from pathlib import Path

from bot.adapters.git.runner import GitFailed, git_bytes

_LS_FILES = ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate"]


def scanned_files(root: Path, timeout_s: float = 120.0) -> list[Path]:
    """Regular files under ``root`` that the scan reads, sorted; git may take ``timeout_s``."""
    root = Path(root)
    try:
        listed = git_bytes(
            [*_LS_FILES, "--", "."], root, config=("core.quotePath=false",), timeout_s=timeout_s
        )
    except GitFailed:  # not inside a git work tree: files on disk
        found = (p for p in root.rglob("*") if ".git" not in p.relative_to(root).parts)
    else:
        names = (n for n in listed.decode("utf-8", errors="surrogateescape").split("\0") if n)
        found = (root / name for name in names)
    return sorted(p for p in found if p.is_file() and not p.is_symlink())
