"""The policy scan a proposal must pass before it is opened anywhere.

With a repository checkout, the diff is applied to the files in memory (the checkout is never
written) and every changed manifest is checked: schema-valid (no new schema errors), inside
the allowed fields, within the replica and resource bounds, limits >= requests, and
introducing no privileged containers, added capabilities or mutable image tags. Without a
checkout, only the diff text and the proposal's declared changes can be checked when the
proposal is drafted, and the result says so. Just before a merge, ``scan_merge`` runs the same
file rules on the files as the merge will leave them, read from the change host; that scan
never falls back to the diff text. A file that is not valid YAML after the change is refused.
Reverts restore content that was reviewed before, so the field allow-list does not apply to
them; every other rule does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import yaml

from bot.domain.diff import FilePatch, touched_files
from bot.domain.errors import ConflictError, InvalidInput
from bot.domain.proposal import Action, Field_, Proposal
from bot.ports.changes import FileVersions
from bot.ports.patch import ApplyDiff
from bot.services import manifest_rules as rules
from bot.settings import ApprovalPolicy

SCAN_REFUSED = "proposal.scan_refused"  # audit kind of a refusal
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_ALLOWED_FIELDS = {f.value for f in Field_}


class ManifestSchema(Protocol):
    def problems(self, document: Mapping[str, Any]) -> list[str] | None:
        """Schema errors ([] when valid), or None when no schema knows the document's kind."""
        ...


@dataclass(frozen=True)
class ScanResult:
    ok: bool
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def explain(self) -> str:
        return "the policy scan refused this change: " + "; ".join(self.reasons)


def scan_proposal(
    proposal: Proposal,
    policy: ApprovalPolicy,
    repo: Path | None = None,
    schema: ManifestSchema | None = None,
    *,
    apply_diff: ApplyDiff | None = None,
) -> ScanResult:
    """``apply_diff`` applies the diff to the files of the checkout ``repo`` in memory; a scan
    with a checkout needs it."""
    reasons: list[str] = []
    notes: list[str] = []
    try:
        files = touched_files(proposal.diff)
    except InvalidInput as exc:
        return ScanResult(False, (str(exc),))
    revert = proposal.action is Action.REVERT
    reasons += declared_problems(proposal, files)
    if repo is None:
        notes.append("no repository checkout: only the diff text and the declared changes were checked")
        reasons += diff_text_problems(proposal.diff)
        reasons += declared_value_problems(proposal, policy)
    else:
        if schema is None:
            notes.append("no Kubernetes schema validator configured: schemas were not checked")
        if apply_diff is None:  # a wiring mistake: never scan a checkout by the diff text alone
            raise ValueError("a policy scan of a checkout needs apply_diff")
        changed = _apply_in_memory(repo, proposal.diff, files, reasons, apply_diff)
        reasons += _versions_problems(changed or {}, policy, schema, notes, revert)
    return _result(reasons, notes)


def scan_merge(
    proposal: Proposal, versions: FileVersions, policy: ApprovalPolicy, schema: ManifestSchema | None = None
) -> ScanResult:
    """The scan just before a merge: ``versions`` holds every file the merge changes, as it is
    on the default branch now and as the merge will leave it. Only these files are judged, in
    full; the diff text plays no part."""
    notes: list[str] = []
    if schema is None:
        notes.append("no Kubernetes schema validator configured: schemas were not checked")
    try:
        reasons = declared_problems(proposal, touched_files(proposal.diff))
    except InvalidInput as exc:
        return ScanResult(False, (str(exc),))
    reasons += _versions_problems(versions, policy, schema, notes, proposal.action is Action.REVERT)
    return _result(reasons, notes)


def _versions_problems(
    versions: FileVersions,
    policy: ApprovalPolicy,
    schema: ManifestSchema | None,
    notes: list[str],
    revert: bool,
) -> list[str]:
    reasons: list[str] = []
    for path, (before, after) in versions.items():
        reasons += file_problems(path, before, after, policy, schema, notes, allow_any_field=revert)
    return reasons


def _result(reasons: list[str], notes: list[str]) -> ScanResult:
    unique = list(dict.fromkeys(reasons))
    return ScanResult(not unique, tuple(unique), tuple(dict.fromkeys(notes)))


# -- without a checkout ----------------------------------------------------------------------
def declared_problems(proposal: Proposal, files: list[FilePatch]) -> list[str]:
    """The declared changes must name allowed fields and exactly the files the diff touches."""
    problems = []
    touched = {p for f in files for p in (f.old, f.new) if p}
    declared = {c.file for c in proposal.changes}
    for change in proposal.changes:
        if change.field not in _ALLOWED_FIELDS and proposal.action is not Action.REVERT:
            problems.append(f"{change.file}: field {change.field!r} is not one Tugboat may change")
        if change.file not in touched:
            problems.append(f"the proposal declares a change to {change.file} but the diff does not touch it")
    if proposal.action is not Action.REVERT:
        problems += [
            f"the diff changes {p}, which the proposal does not declare" for p in sorted(touched - declared)
        ]
    return problems


def declared_value_problems(proposal: Proposal, policy: ApprovalPolicy) -> list[str]:
    problems = []
    for c in proposal.changes:
        where = f"{c.file} {c.resource or ''} {c.field}".replace("  ", " ")
        if (
            c.field in (Field_.REPLICAS, Field_.HPA_MIN_REPLICAS, Field_.HPA_MAX_REPLICAS)
            and c.to is not None
        ):
            problems += rules.replica_problems(where, c.from_, c.to, policy)
        elif c.field in (Field_.CPU_LIMIT, Field_.CPU_REQUEST) and isinstance(c.to, int | float):
            if c.to > policy.max_cpu_cores or c.to <= 0:
                problems.append(f"{where} would be {c.to:g} cores, outside (0, {policy.max_cpu_cores:g}]")
        elif c.field in (Field_.MEMORY_LIMIT, Field_.MEMORY_REQUEST) and isinstance(c.to, int | float):
            if c.to > policy.max_memory_bytes or c.to <= 0:
                problems.append(f"{where} would be {c.to:g} bytes, outside (0, {policy.max_memory_bytes}]")
        elif c.field == Field_.IMAGE and isinstance(c.to, str):
            problem = rules.image_problem(c.to)
            if problem:
                problems.append(f"{where}: {problem}")
    return problems


_PRIVILEGED = re.compile(r"^\+\s*privileged:\s*(true|True|yes|on)\b", re.MULTILINE)
_CAPABILITIES = re.compile(r"^\+\s*(capabilities:|add:)", re.MULTILINE)
_ZERO_REPLICAS = re.compile(r"^\+\s*(?:-\s*)?(replicas|replicaCount|count|minReplicas):\s*0\b", re.MULTILINE)


def diff_text_problems(diff: str) -> list[str]:
    """What the added lines of a diff show on their own.

    A line that is only moved or re-indented (the same text is also removed) introduces
    nothing, so it is not held against the change.
    """
    removed = Counter(
        line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")
    )
    added = []
    for line in diff.splitlines():
        if not line.startswith("+") or line.startswith("+++"):
            continue
        text = line[1:].strip()
        if removed[text] > 0:
            removed[text] -= 1
            continue
        added.append("+" + text)
    introduced = "\n".join(added)
    problems = []
    if _PRIVILEGED.search(introduced):
        problems.append("the diff adds a privileged container (privileged: true)")
    if _CAPABILITIES.search(introduced):
        problems.append("the diff adds Linux capabilities")
    if _ZERO_REPLICAS.search(introduced):
        problems.append("the diff sets a replica count to 0")
    for match in rules.IMAGE_LINE.finditer(introduced):
        problem = rules.image_problem(match.group("ref"))
        if problem:
            problems.append(f"the diff sets {problem}")
    return problems


# -- with a checkout -------------------------------------------------------------------------
def _apply_in_memory(
    repo: Path, diff: str, files: list[FilePatch], reasons: list[str], apply_diff: ApplyDiff
) -> dict[str, tuple[bytes | None, bytes | None]] | None:
    root = repo.resolve()
    originals: dict[str, bytes | None] = {}
    for path in sorted({p for f in files for p in (f.old, f.new) if p}):
        problem = _unsafe(root, path)
        if problem:
            reasons.append(problem)
            continue
        target = root / path
        originals[path] = target.read_bytes() if target.is_file() else None
    if reasons:
        return None
    try:
        after = apply_diff(diff, originals)
    except (ConflictError, InvalidInput) as exc:
        reasons.append(str(exc))
        return None
    return {path: (originals.get(path), content) for path, content in after.items()}


def _unsafe(root: Path, path: str) -> str | None:
    """Why ``path`` must not be written: a symlink on the way, or a place outside the repository."""
    current = root
    for part in PurePosixPath(path).parts:
        current = current / part
        if current.is_symlink():
            return f"{path}: {current.relative_to(root)} is a symbolic link; proposals never follow links"
    if not current.resolve().is_relative_to(root):
        return f"{path} lies outside the repository"
    return None


def file_problems(
    path: str,
    before: bytes | None,
    after: bytes | None,
    policy: ApprovalPolicy,
    schema: ManifestSchema | None,
    notes: list[str],
    *,
    allow_any_field: bool = False,
) -> list[str]:
    if after is None:
        return [] if allow_any_field else [f"the diff deletes {path}; proposals never delete files"]
    if not path.endswith(_MANIFEST_SUFFIXES):
        return [] if allow_any_field else [f"{path} is not a YAML manifest; proposals only edit manifests"]
    try:
        new_docs = rules.classify(path, list(yaml.safe_load_all(after.decode())))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return [f"{path} is not valid YAML after the change: {' '.join(str(exc).split())[:200]}"]
    problems: list[str] = []
    unreadable_before = False
    try:
        old_docs = rules.classify(path, list(yaml.safe_load_all(before.decode()))) if before else []
    except (yaml.YAMLError, UnicodeDecodeError):
        unreadable_before = True
        # Nothing to compare against: every document is judged in full, as if new, and since
        # what the change touches cannot be told apart, only a revert may go ahead.
        old_docs = []
        notes.append(f"{path} was not valid YAML before the change; the whole resulting file was checked")
        if not allow_any_field:
            problems.append(
                f"{path} was not valid YAML before the change, so which fields the change touches "
                "cannot be checked; fix the file by hand first"
            )
    old_by_key = {d.key: d for d in old_docs}
    for doc in new_docs:
        old = old_by_key.get(doc.key)
        old_data = old.data if old is not None else None
        if old_data == doc.data:
            continue
        if doc.kind == "object":
            problems += _schema_problems(doc, old_data, schema, notes)
        else:
            problems += rules.structural_problems(doc)
        if not allow_any_field and not unreadable_before:  # refused above, field by field moot
            for leaf in rules.changed_paths(old_data, doc.data):
                if rules.field_of(doc, leaf) is None:
                    problems.append(
                        f"{doc.label}: {'.'.join(leaf) or 'the document'} is outside the allowed fields"
                    )
        problems += rules.value_problems(doc, old_data, policy)
        problems += rules.limit_problems(doc, old_data)
        problems += rules.introduced_hazards(doc, old_data)
    removed = set(old_by_key) - {d.key for d in new_docs}
    if removed and not allow_any_field:
        problems += [f"{key} is removed; proposals never remove objects" for key in sorted(removed)]
    return problems


def _schema_problems(doc: rules.Doc, old: Any, schema: ManifestSchema | None, notes: list[str]) -> list[str]:
    if schema is None:
        return []
    found = schema.problems(doc.data)
    if found is None:
        notes.append(f"{doc.label}: no bundled schema for this kind; checked by the typed rules only")
        return []
    before = set(schema.problems(old) or []) if isinstance(old, dict) else set()
    new = [p for p in found if p not in before]
    if found and not new:
        notes.append(f"{doc.label}: already had a schema error before this change ({found[0]})")
    return [f"{doc.label} is not a valid {doc.data.get('kind')}: {p}" for p in new]
