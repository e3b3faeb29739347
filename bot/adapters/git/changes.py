"""What a commit changed, for which workload: image, resources, env, replicas, config, other.

Works from the line diff of each file and the key path each changed line sits under
(``yamlpaths.track``), so manifests that strict YAML parsers reject still classify. A file
belongs to a workload by its path segments (``apps/<svc>/``, ``base/<svc>/``,
``charts/<svc>/values.yaml``) or by ``metadata.name``; a shared file (a Kustomize overlay, an
umbrella ``values.yaml``) attributes each changed line by the list item or key it sits in
(``images: - name: .../<svc>``, ``replicas: - name: <svc>``, ``<svc>: image: tag:``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from bot.adapters.git.yamlpaths import LineInfo, Tracked, parse_leaves, track
from bot.ports.gitrepo import ChangeKind, Commit, FileChange, WorkloadChange

_DOC_SUFFIXES = {".md", ".markdown", ".rst", ".txt", ".adoc", ".png", ".svg", ".jpg"}
_DOC_NAMES = {"readme", "changelog", "license", "notice", "owners", "codeowners", "authors", "contributing"}
_YAML_SUFFIXES = {".yaml", ".yml", ".json"}
_CONFIG_SUFFIXES = {".toml", ".ini", ".conf", ".properties", ".env", ".cfg", ".jsonnet", ".cue"}
_IMAGE_LEAVES = {"image", "newtag", "newname", "digest", "tag", "repository"}
_REPLICA_LEAVES = {"replicas", "replicacount", "minreplicas", "maxreplicas"}
_ENV_KEYS = {"env", "envfrom", "extraenv", "extraenvvars", "environment"}
_CONFIG_KEYS = {"args", "command", "configmapgenerator", "secretgenerator", "data", "stringdata", "config"}
_CONFIG_KINDS = {"ConfigMap", "Secret"}


@dataclass(frozen=True)
class _Change:
    file: str
    kind: ChangeKind
    label: str  # e.g. "image", "limits.cpu", "LOG_LEVEL"
    old: str | None
    new: str | None
    quiet: bool = False  # counts for the kind, but the summary names the file or item instead


def describe(commit: Commit, workloads: list[str]) -> list[WorkloadChange]:
    """One WorkloadChange per workload (in the order given) that ``commit`` touched."""
    found: dict[str, list[_Change]] = {}
    for change in commit.files:
        for workload, items in _file_changes(change, workloads).items():
            found.setdefault(workload, []).extend(items)
    at = commit.committed_at or commit.at
    result = []
    for workload in workloads:
        if found.get(workload):
            result.append(_summarise(workload, commit, at, found[workload]))
    return result


def match_workload(token: str, workloads: list[str]) -> str | None:
    """The workload a path segment, object name or image name stands for, if any.

    Exact names win; otherwise a name that contains the workload as a dash-, underscore- or
    dot-separated part (``auth-config`` -> ``auth``), preferring the longest workload.
    """
    token = _image_base(token)
    if token in workloads:
        return token
    parts = [w for w in workloads if re.search(rf"(^|[-_.]){re.escape(w)}($|[-_.])", token)]
    return max(parts, key=len) if parts else None


def _file_changes(change: FileChange, workloads: list[str]) -> dict[str, list[_Change]]:
    path = PurePosixPath(change.path)
    if _is_doc(path):
        return {}
    owner = _path_owner(path, workloads)
    if change.skipped or path.suffix.lower() not in _YAML_SUFFIXES:
        if owner is None:
            return {}
        kind: ChangeKind = "config" if path.suffix.lower() in _CONFIG_SUFFIXES else "other"
        return {owner: [_Change(change.path, kind, f"file {path.name}", None, None)]}
    structured = path.suffix.lower() == ".json"
    old, new, removed, added = _changed_lines(change.old_text or "", change.new_text or "", structured)
    helm = path.name.startswith("values") and not _has_kind(old, new)
    slots: dict[tuple[str, ...], dict[int, str | None]] = {}
    kinds: dict[tuple[str, ...], ChangeKind] = {}
    for side, tracked, infos in ((0, old, removed), (1, new, added)):
        for info in infos:
            workload = _line_owner(info, tracked, owner, workloads)
            if workload is None:
                continue
            # The document index keeps equal paths in different documents apart.
            key = (workload, str(info.doc), *info.path) if info.significant else (workload, "", "#comment")
            slots.setdefault(key, {})[side] = info.value if info.significant else None
            kinds[key] = _kind(info, tracked, helm, path) if info.significant else "other"
    result: dict[str, list[_Change]] = {}
    for key, sides in slots.items():
        kind = kinds[key]
        if len(sides) == 2 and sides[0] == sides[1]:
            kind = "other"  # the same value on a reworded line: a comment or formatting change
        # A whole file added or deleted, or the identity line of a list item (``- name: X``),
        # is summarised by its file or item rather than value by value.
        quiet = change.old_text is None or change.new_text is None or _is_identity(key)
        item = _Change(change.path, kind, _label(key[2:], kind), sides.get(0), sides.get(1), quiet)
        result.setdefault(key[0], []).append(item)
    return result


def _changed_lines(
    old_text: str, new_text: str, structured: bool
) -> tuple[Tracked, Tracked, list[LineInfo], list[LineInfo]]:
    """The removed and added lines with their key paths; leaf by leaf where a line holds many."""
    old, new = track(old_text), track(new_text)
    a, b = old_text.splitlines(), new_text.splitlines()
    # Edits are usually a few lines in a long file: match the common head and tail directly so
    # SequenceMatcher (quadratic at worst) only sees the middle.
    head = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    tail = 0
    while tail < min(len(a), len(b)) - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    matcher = difflib.SequenceMatcher(a=a[head : len(a) - tail], b=b[head : len(b) - tail], autojunk=False)
    removed: list[LineInfo] = []
    added: list[LineInfo] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += old.lines[head + i1 : head + i2]
            added += new.lines[head + j1 : head + j2]
    if structured or any((i.value or "")[:1] in ("{", "[") for i in removed + added):
        old_leaves, new_leaves = parse_leaves(old_text), parse_leaves(new_text)
        if old_leaves is not None and new_leaves is not None:
            before = {(i.doc, i.path): i for i in old_leaves.lines}
            after = {(i.doc, i.path): i for i in new_leaves.lines}
            removed = [i for k, i in before.items() if k not in after or after[k].value != i.value]
            added = [i for k, i in after.items() if k not in before or before[k].value != i.value]
            return old_leaves, new_leaves, removed, added
    return old, new, removed, added


def _is_identity(key: tuple[str, ...]) -> bool:
    return len(key) >= 3 and key[-2].startswith("[") and key[-1] == "name"


def _is_doc(path: PurePosixPath) -> bool:
    """Documentation, and tooling under dot-paths (``.github/``, ``.pre-commit-config.yaml``)."""
    return (
        path.suffix.lower() in _DOC_SUFFIXES
        or path.stem.lower() in _DOC_NAMES
        or "docs" in path.parts[:-1]
        or any(part.startswith(".") for part in path.parts)
    )


def _path_owner(path: PurePosixPath, workloads: list[str]) -> str | None:
    """The workload named by the deepest path segment (directories, then the file's stem)."""
    for segment in reversed([*path.parts[:-1], path.stem]):
        workload = match_workload(segment, workloads)
        if workload:
            return workload
    return None


def _line_owner(info: LineInfo, tracked: Tracked, owner: str | None, workloads: list[str]) -> str | None:
    doc = tracked.docs[info.doc] if info.doc < len(tracked.docs) else None
    name = doc.name if doc and doc.kind != "Kustomization" else None
    named = match_workload(name, workloads) if name else None
    if named and (named == name or owner is None):
        return named
    if owner:
        return owner
    # A shared file: the list item or key the line sits in names the workload.
    for part in reversed(info.path):
        if part.startswith("[/"):
            continue  # a JSON pointer, not a name
        workload = match_workload(part.strip("[]"), workloads)
        if workload:
            return workload
    if info.value and len(info.path) == 2 and info.path[0] == "resources":
        return match_workload(PurePosixPath(info.value).name, workloads)
    return None


def _has_kind(*tracked: Tracked) -> bool:
    return any(d.kind for t in tracked for d in t.docs)


def _keys(path: tuple[str, ...], lower: bool = True) -> list[str]:
    """The keys above a line, where a list item may stand for a path of its own.

    A JSON patch op (``- path: /spec/replicas``) stands for its pointer, and a parameter item
    (Argo CD's ``- name: image.tag`` / ``value: 1.2``) for its dotted name.
    """
    keys: list[str] = []
    for index, part in enumerate(path):
        if part.startswith("[/"):
            keys += [k for k in part[2:-1].split("/") if k and not k.isdigit()]
            break
        if part.startswith("[") and path[index + 1 : index + 2] == ("value",) and "parameters" in keys:
            keys += part[1:-1].split(".")
            break
        if not part.startswith("["):
            keys.append(part)
    return [k.lower() for k in keys] if lower else keys


def _kind(info: LineInfo, tracked: Tracked, helm: bool, path: PurePosixPath) -> ChangeKind:
    keys = _keys(info.path)
    leaf = keys[-1] if keys else ""
    doc = tracked.docs[info.doc] if info.doc < len(tracked.docs) else None
    kustomization = (doc is not None and doc.kind == "Kustomization") or path.stem == "kustomization"
    if leaf in _IMAGE_LEAVES and (leaf == "image" or "image" in keys or "images" in keys):
        return "image"
    autoscaler = doc is not None and doc.kind == "HorizontalPodAutoscaler" and keys[:1] == ["spec"]
    if leaf in _REPLICA_LEAVES or (keys[:1] == ["replicas"] and leaf == "count") or autoscaler:
        return "replicas"
    if kustomization and keys[:1] == ["resources"]:
        return "other"  # the list of bases an overlay includes
    if "resources" in keys:
        return "resources"
    if _ENV_KEYS & set(keys):
        return "env"
    if (doc is not None and doc.kind in _CONFIG_KINDS) or _CONFIG_KEYS & set(keys) or helm:
        return "config"
    return "other"


def _label(path: tuple[str, ...], kind: ChangeKind) -> str:
    keys = _keys(path, lower=False)
    if kind == "image":
        return "image" if keys[-1:] != ["repository"] else "image repository"
    if kind == "replicas":
        return keys[-1] if keys and keys[-1] not in ("count", "replicaCount") else "replicas"
    if kind == "resources" and "resources" in keys:
        return ".".join(keys[keys.index("resources") + 1 :]) or "resources"
    if kind == "env":
        lowered = [p.lower() for p in path]
        start = max((i for i, p in enumerate(lowered) if p in _ENV_KEYS), default=0)
        names = [p.strip("[]") for p in path[start:] if p.startswith("[") and p != "[]"]
        return names[-1] if names else ".".join(keys)
    return ".".join(keys) or "comment"


def _summarise(workload: str, commit: Commit, at: Any, items: list[_Change]) -> WorkloadChange:
    files = tuple(dict.fromkeys(c.file for c in items))
    pieces: list[str] = []
    details: dict[str, Any] = {"changes": []}
    for change in items:
        if change.old is None and change.new is None:
            continue  # a structural line (``resources:``) or a comment: no value to report
        details["changes"].append(
            {
                "file": change.file,
                "kind": change.kind,
                "field": change.label,
                "from": change.old,
                "to": change.new,
            }
        )
        if change.kind == "other" or change.quiet:
            continue
        before, after = _pretty(change)
        if change.kind in ("image", "replicas") and change.kind not in details:
            details[change.kind] = {"from": change.old, "to": change.new, "file": change.file}
        elif change.kind in ("resources", "env", "config"):
            details.setdefault(change.kind, {})[change.label] = {"from": change.old, "to": change.new}
        prefix = "env " if change.kind == "env" else ""
        piece = f"{prefix}{change.label} {before} -> {after}"
        if piece not in pieces:
            pieces.append(piece)
    kinds = frozenset(c.kind for c in items)
    if len(kinds) > 1:
        kinds = kinds - {"other"}  # comments beside a real change are not a change of their own
    whole = _whole_files(commit, files)
    pieces += [piece for piece in whole if piece not in pieces]
    if not pieces:
        pieces = [f"changed {', '.join(files)}"]
    details["files"] = list(files)
    return WorkloadChange(
        workload=workload,
        sha=commit.sha,
        at=at,
        kinds=kinds,
        summary="; ".join(pieces),
        details=details,
        files=files,
        subject=commit.subject,
    )


def _whole_files(commit: Commit, files: tuple[str, ...]) -> list[str]:
    out = []
    for change in commit.files:
        if change.path in files and change.old_text is None and change.new_text is not None:
            out.append(f"added {change.path}")
        elif change.path in files and change.new_text is None and change.old_text is not None:
            out.append(f"deleted {change.path}")
    return out


def _pretty(change: _Change) -> tuple[str, str]:
    before, after = change.old or "(none)", change.new or "(none)"
    if change.kind == "image" and change.old and change.new:
        old_base, old_tag = _split_image(change.old)
        new_base, new_tag = _split_image(change.new)
        if old_base == new_base and old_tag and new_tag:
            return old_tag, new_tag
    return before, after


def _split_image(ref: str) -> tuple[str, str | None]:
    """``repo/name:tag`` -> (``repo/name``, ``tag``); a digest is shortened for reading."""
    if "@" in ref:
        base, digest = ref.split("@", 1)
        return base, digest[:19]
    head, sep, tag = ref.rpartition(":")
    return (head, tag) if sep and "/" not in tag else (ref, None)


def _image_base(token: str) -> str:
    """``registry.example.com/shop/auth:1.2`` -> ``auth``; other tokens are returned unchanged."""
    if "/" in token or "@" in token:
        name = token.rsplit("/", 1)[-1].split("@", 1)[0]
        return name.split(":", 1)[0] or token
    return token
