"""Typed change suggestions from the model, and the deterministic validator they must pass.

The model can only express a change as a ``ModelProposal``; free text is never parsed into an
action. A suggestion that passes validation is still only a suggestion: the proposal workflow
(diff, pull request, human approvals) is unchanged by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.domain import quantity
from bot.domain.errors import InvalidInput
from bot.domain.report import InvestigationReport
from bot.ports.workspace import CurrentWorkspace
from bot.settings import ApprovalPolicy

ModelAction = Literal[
    "scale", "set_cpu_limit", "set_cpu_request", "set_memory_limit", "set_memory_request", "none"
]
ModelField = Literal[
    "replicas", "hpa.minReplicas", "hpa.maxReplicas", "cpu", "cpu_request", "memory", "memory_request"
]

_FIELDS_FOR_ACTION: dict[str, set[str]] = {
    "scale": {"replicas", "hpa.minReplicas", "hpa.maxReplicas"},
    "set_cpu_limit": {"cpu"},
    "set_cpu_request": {"cpu_request"},
    "set_memory_limit": {"memory"},
    "set_memory_request": {"memory_request"},
    "none": set(),
}
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ModelProposal(BaseModel):
    """A change the model may suggest. Values: replicas as integers, CPU as cores or millicores
    ("500m"), memory as bytes or a Kubernetes quantity ("512Mi")."""

    action: ModelAction
    workload: str = Field(max_length=63, description="Deployment/StatefulSet name")
    field: ModelField | None = None
    value: str | int | float | None = None
    namespace: str | None = Field(default=None, max_length=63)
    file: str | None = Field(default=None, max_length=300, description="manifest path in the repository")
    reason: str = Field(default="", max_length=500)


@dataclass
class ProposalCheck:
    ok: bool
    errors: list[str] = field(default_factory=list)
    proposal: ModelProposal | None = None
    value: float | int | None = None  # the parsed value, in replicas, cores or bytes


def parse_cpu(value: Any) -> float:
    """The model's CPU value in cores; ValueError (a per-field error for the model) when malformed."""
    try:
        return quantity.parse_cpu(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from exc


def parse_memory(value: Any) -> int:
    """The model's memory value in bytes; ValueError when malformed."""
    try:
        return quantity.parse_memory(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from exc


def safe_repo_path(repo_root: Path, path: str) -> Path:
    """``path`` resolved inside ``repo_root``; ValueError for absolute paths, ``..`` or symlinks out."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path):
        raise ValueError(f"path must be relative to the repository: {path!r}")
    if ".." in pure.parts or "\\" in path or "\x00" in path:
        raise ValueError(f"path may not leave the repository: {path!r}")
    root = repo_root.resolve()
    resolved = (root / pure).resolve()
    if resolved != root and root not in resolved.parents:
        raise ValueError(f"path resolves outside the repository (symlink?): {path!r}")
    return resolved


def known_workloads(report: InvestigationReport | None) -> set[str]:
    names: set[str] = set()
    if report is None:
        return names
    for name in (report.service, *(rc.service for rc in report.root_causes)):
        if name:
            names.add(name)
    if report.proposal:
        if report.proposal.service:
            names.add(report.proposal.service)
        for c in report.proposal.changes:
            if c.resource and "/" in c.resource:
                names.add(c.resource.split("/", 1)[1])
    return names


def repo_facts(
    workspace: CurrentWorkspace | None, workload: str, fld: str | None
) -> tuple[set[str], dict[str, Any]]:
    """The workload names in the repository's manifests (``workspace`` opens them), and the
    current value of ``fld`` in ``workload`` where the manifests set it: what a suggestion
    about a workload the investigation did not rank is checked against."""
    if workspace is None:
        return set(), {}
    try:
        repo = workspace()
        names = {w.name for w in repo.workloads()}
    except Exception:  # unreadable manifests: the suggestion is checked against the report alone
        return set(), {}
    current: dict[str, Any] = {}
    if fld and workload in names:
        try:
            value = repo.effective(workload, fld).value
        except Exception:  # the value is not set where we can read it: it stays unknown
            value = None
        if value is not None:
            current[fld] = value
    return names, current


def _current_values(report: InvestigationReport | None) -> dict[str, Any]:
    """Known current values per field, from the deterministic proposal's ``from`` side."""
    out: dict[str, Any] = {}
    if report and report.proposal:
        for c in report.proposal.changes:
            if c.from_ is not None:
                out.setdefault(c.field, c.from_)
    return out


def validate_model_proposal(
    mp: ModelProposal,
    report: InvestigationReport | None,
    policy: ApprovalPolicy,
    *,
    repo_root: Path | None = None,
    repo_workloads: Iterable[str] = (),
    current: Mapping[str, Any] | None = None,
) -> ProposalCheck:
    """Check a model's suggestion against the allow-list, the policy bounds and the facts."""
    errors: list[str] = []
    if mp.action == "none":
        return ProposalCheck(ok=True, proposal=mp)
    if not _DNS1123.match(mp.workload):
        errors.append(f"workload {mp.workload!r} is not a Kubernetes name")
    elif mp.workload not in known_workloads(report) | set(repo_workloads):
        where = (
            "nor among the workloads in the repository's manifests"
            if repo_root is not None
            else "and no repository is available to look for it"
        )
        errors.append(f"workload {mp.workload!r} is not in the investigation, {where}")
    if mp.field is None or mp.field not in _FIELDS_FOR_ACTION[mp.action]:
        allowed = ", ".join(sorted(_FIELDS_FOR_ACTION[mp.action]))
        errors.append(f"action {mp.action} may change only: {allowed} (got {mp.field!r})")
    if mp.file is not None:
        if repo_root is None:
            errors.append("a file was named but no repository is available to check it")
        else:
            try:
                safe_repo_path(repo_root, mp.file)
            except ValueError as exc:
                errors.append(str(exc))
    # The report's current values belong to the workload its own proposal changes, no other.
    own = report is not None and report.proposal is not None and report.proposal.service == mp.workload
    known = {**(_current_values(report) if own else {}), **(current or {})}
    value: float | int | None = None
    if mp.field is not None and not errors:
        try:
            value = _check_value(mp.field, mp.value, known, policy, errors)
        except (TypeError, ValueError) as exc:
            errors.append(f"value {mp.value!r} for {mp.field}: {exc}")
    return ProposalCheck(ok=not errors, errors=errors, proposal=mp if not errors else None, value=value)


def _check_value(
    fld: str, raw: Any, known: Mapping[str, Any], policy: ApprovalPolicy, errors: list[str]
) -> float | int:
    if raw is None:
        raise ValueError("a value is required")
    if fld in ("replicas", "hpa.minReplicas", "hpa.maxReplicas"):
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError("replicas must be a whole number")
        n = int(str(raw).strip()) if not isinstance(raw, int | float) else int(raw)
        if n < 1:
            errors.append(f"{fld} must be at least 1 (got {n}); scaling to zero is never proposed")
        if n > policy.max_replicas:
            errors.append(f"{fld} {n} exceeds the policy maximum of {policy.max_replicas}")
        cur = known.get(fld)
        if cur is None:
            errors.append(f"the current {fld} is unknown, so the change cannot be bounded")
        elif n > int(cur) * policy.max_replica_factor:
            errors.append(f"{fld} {cur} -> {n} exceeds the policy factor ×{policy.max_replica_factor:g}")
        return n
    if fld in ("cpu", "cpu_request"):
        cores = parse_cpu(raw)
        if not 0 < cores <= policy.max_cpu_cores:
            errors.append(f"CPU {cores:g} cores is outside (0, {policy.max_cpu_cores:g}]")
        _check_pair(fld, cores, known, "cpu_request", "cpu", parse_cpu, errors)
        return cores
    mem = parse_memory(raw)
    if not 0 < mem <= policy.max_memory_bytes:
        errors.append(f"memory {mem} bytes is outside (0, {policy.max_memory_bytes}]")
    _check_pair(fld, mem, known, "memory_request", "memory", parse_memory, errors)
    return mem


def _check_pair(
    fld: str, value: float, known: Mapping[str, Any], req: str, lim: str, parse: Any, errors: list[str]
) -> None:
    """Limits stay at or above requests, when the other side is known."""
    if fld == lim and known.get(req) is not None and value < parse(known[req]):
        errors.append(f"limit {value:g} is below the current request {known[req]}")
    if fld == req and known.get(lim) is not None and value > parse(known[lim]):
        errors.append(f"request {value:g} is above the current limit {known[lim]}")
