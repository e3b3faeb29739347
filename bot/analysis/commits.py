"""Which workloads a commit touched, and how (a fallback for the git adapter's classifier).

A file belongs to a workload when a path segment names it (``apps/web/...``, ``web.yaml``,
``values-web.yaml``), or when the changed lines, or the few lines just above them (an overlay's
``- name: registry/shop/web`` above ``newTag:``), name it as a word.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable

from bot.ports.gitrepo import ChangeKind, Commit, WorkloadChange

DOC_SUFFIXES = (".md", ".rst", ".txt", ".adoc")
_CONTEXT_LINES = 3

Describe = Callable[[Commit, list[str]], list[WorkloadChange]]


def is_docs_only(commit: Commit) -> bool:
    paths = [f.path for f in commit.files]
    return bool(paths) and all(
        p.lower().endswith(DOC_SUFFIXES)
        or p.lower().startswith(("docs/", "doc/"))
        or "changelog" in p.lower()
        for p in paths
    )


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])")


def _changed(old: str, new: str) -> tuple[list[str], list[str], list[str]]:
    """Removed lines, added lines, and the context lines just above each change."""
    a, b = old.splitlines(), new.splitlines()
    removed: list[str] = []
    added: list[str] = []
    context: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        removed += a[i1:i2]
        added += b[j1:j2]
        context += b[max(j1 - _CONTEXT_LINES, 0) : j1]
    return removed, added, context


def _kinds(removed: list[str], added: list[str]) -> set[ChangeKind]:
    text = "\n".join(removed + added).lower()
    kinds: set[ChangeKind] = set()
    if "image" in text or "newtag" in text or re.search(r"\btag:", text):
        kinds.add("image")
    if re.search(r"\b(cpu|memory)\b", text):
        kinds.add("resources")
    if re.search(r"\breplicas\b|\bcount:|minreplicas|maxreplicas", text):
        kinds.add("replicas")
    if re.search(r"\bvalue:|\benv\b|name: [A-Z_]+", "\n".join(removed + added)):
        kinds.add("env")
    return kinds or {"config"}


def describe_fallback(commit: Commit, workloads: list[str]) -> list[WorkloadChange]:
    """Per-workload changes of a commit; empty for docs-only commits."""
    if is_docs_only(commit):
        return []
    found: dict[str, tuple[set[ChangeKind], list[str], list[str]]] = {}
    for fc in commit.files:
        if fc.path.lower().endswith(DOC_SUFFIXES):
            continue
        segments = re.split(r"[/._]", fc.path)
        removed, added, context = _changed(fc.old_text or "", fc.new_text or "")
        for wl in workloads:
            pattern = _word(wl)
            by_path = wl in segments or any(
                seg.endswith("-" + wl) or seg == f"values-{wl}" for seg in segments
            )
            by_text = any(pattern.search(line) for line in removed + added + context)
            if by_path or by_text:
                kinds, olds, news = found.setdefault(wl, (set(), [], []))
                kinds |= _kinds(removed, added)
                olds += [ln.strip() for ln in removed]
                news += [ln.strip() for ln in added]
    out = []
    for wl, (kinds, olds, news) in found.items():
        summary = _summary(kinds, olds, news)
        files = tuple(f.path for f in commit.files if not f.path.lower().endswith(DOC_SUFFIXES))
        out.append(
            WorkloadChange(
                workload=wl,
                sha=commit.sha,
                at=commit.committed_at or commit.at,
                kinds=frozenset(kinds),
                summary=summary,
                files=files,
                subject=commit.subject,
            )
        )
    return out


def _summary(kinds: Iterable[str], olds: list[str], news: list[str]) -> str:
    if olds and news and len(olds) == len(news) == 1:
        return f"{olds[0]} -> {news[0]}"
    return ", ".join(sorted(kinds)) + f" change ({len(olds)} lines removed, {len(news)} added)"
