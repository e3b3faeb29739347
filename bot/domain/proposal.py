"""A proposed manifest change, its typed field changes, and its life cycle."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Action(StrEnum):
    SCALE = "scale"
    SET_CPU_LIMIT = "set_cpu_limit"
    SET_MEMORY_LIMIT = "set_memory_limit"
    SET_CPU_REQUEST = "set_cpu_request"
    SET_MEMORY_REQUEST = "set_memory_request"
    SET_RESOURCES = "set_resources"  # rightsizing: several request/limit fields at once
    REVERT = "revert"
    NONE = "none"


# What each action does, in the words of a PR title: "<words> <workload>".
ACTION_WORDS = {
    Action.SCALE: "scale out",
    Action.SET_CPU_LIMIT: "raise the CPU limit of",
    Action.SET_MEMORY_LIMIT: "raise the memory limit of",
    Action.SET_CPU_REQUEST: "raise the CPU request of",
    Action.SET_MEMORY_REQUEST: "raise the memory request of",
    Action.SET_RESOURCES: "rightsize",
    Action.REVERT: "revert the change to",
    Action.NONE: "no change to",
}


# Each action as a pull request label: a short noun people filter by, beside the label "tugboat".
ACTION_LABELS = {
    Action.SCALE: "scale",
    Action.SET_CPU_LIMIT: "CPU limit",
    Action.SET_MEMORY_LIMIT: "memory limit",
    Action.SET_CPU_REQUEST: "CPU request",
    Action.SET_MEMORY_REQUEST: "memory request",
    Action.SET_RESOURCES: "rightsize",
    Action.REVERT: "revert",
}


def action_words(action: Action, workload: str | None = None) -> str:
    """``raise the memory limit of payments``: an action as people read it."""
    return f"{ACTION_WORDS[action]} {workload or ''}".strip()


class Field_(StrEnum):
    """The manifest fields a proposal may change (the allow-list)."""

    REPLICAS = "replicas"
    HPA_MIN_REPLICAS = "hpa.minReplicas"
    HPA_MAX_REPLICAS = "hpa.maxReplicas"
    CPU_REQUEST = "cpu_request"
    CPU_LIMIT = "cpu"
    MEMORY_REQUEST = "memory_request"
    MEMORY_LIMIT = "memory"
    IMAGE = "image"


# The fields as people name them.
FIELD_WORDS = {
    Field_.REPLICAS: "replicas",
    Field_.HPA_MIN_REPLICAS: "HPA minReplicas",
    Field_.HPA_MAX_REPLICAS: "HPA maxReplicas",
    Field_.CPU_REQUEST: "CPU request",
    Field_.CPU_LIMIT: "CPU limit",
    Field_.MEMORY_REQUEST: "memory request",
    Field_.MEMORY_LIMIT: "memory limit",
    Field_.IMAGE: "image",
}


def field_words(field: str) -> str:
    """``memory request`` for ``memory_request``; a field outside the allow-list as it is."""
    try:
        return FIELD_WORDS[Field_(field)]
    except ValueError:
        return field


class FieldChange(BaseModel):
    """One value changed in one file. Units: replicas int, CPU cores float, memory bytes int."""

    file: str
    field: str
    from_: Any = Field(default=None, alias="from")
    to: Any = None
    resource: str | None = None  # e.g. "Deployment/checkout"
    container: str | None = None

    model_config = {"populate_by_name": True}

    def public(self) -> dict[str, Any]:
        data = {"file": self.file, "field": self.field, "from": self.from_, "to": self.to}
        if self.resource:
            data["resource"] = self.resource
        if self.container:
            data["container"] = self.container
        return data


class ProposalState(StrEnum):
    DRAFT = "draft"  # computed, not yet opened on the change host
    OPEN = "open"  # branch or PR exists, waiting for approvals
    APPROVED = "approved"  # enough approvals, merge in progress
    MERGED = "merged"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"  # merge refused (not mergeable, conflicts, scan refusal at merge time, ...)
    SUPERSEDED = "superseded"
    TAMPERED = "tampered"  # its branch held something Tugboat did not put there; never merges


TERMINAL_STATES = frozenset(
    {
        ProposalState.MERGED,
        ProposalState.REJECTED,
        ProposalState.EXPIRED,
        ProposalState.SUPERSEDED,
        ProposalState.TAMPERED,
    }
)

# Where a proposal stays for good: nothing moves it on (a failed merge is not retried).
ENDED_STATES = TERMINAL_STATES | {ProposalState.FAILED}

# How each state reads in a sentence shown to people ("this change is already ...").
STATE_TEXT = {
    ProposalState.DRAFT: "drafted but not opened yet",
    ProposalState.OPEN: "open for approval",
    ProposalState.APPROVED: "approved and merging",
    ProposalState.MERGED: "merged",
    ProposalState.REJECTED: "rejected",
    ProposalState.EXPIRED: "expired",
    ProposalState.FAILED: "stopped: its merge was refused",
    ProposalState.SUPERSEDED: "replaced by a newer proposal",
    ProposalState.TAMPERED: "closed because its branch was changed outside Tugboat",
}


def replaces(newer: Proposal, older: Proposal) -> bool:
    """Whether opening ``newer`` makes ``older`` moot: another proposal that changes a manifest
    field ``older`` changes too (the same file, resource, container and field), e.g. a second
    alert's scale-out of the same Deployment. Merged after it, ``older`` would undo its numbers
    or conflict. Reverts change no typed field, so they replace nothing and are not replaced."""
    if newer.id == older.id:
        return False
    return bool(_field_keys(newer) & _field_keys(older))


def _field_keys(proposal: Proposal) -> set[tuple[str, str, str, str]]:
    return {(c.file, c.resource or "", c.container or "", c.field) for c in proposal.changes}


def new_proposal_id() -> str:
    return uuid.uuid4().hex[:12]


class Proposal(BaseModel):
    id: str = Field(default_factory=new_proposal_id)
    action: Action
    service: str | None = None
    namespace: str | None = None
    commit: str | None = None  # the commit to revert, for Action.REVERT
    changes: list[FieldChange] = Field(default_factory=list)
    diff: str = ""
    title: str = ""
    rationale: str = ""
    state: ProposalState = ProposalState.DRAFT
    requested_by: str | None = None  # who triggered it (may not approve it)
    branch: str | None = None
    head_sha: str | None = None  # the commit the approvers are shown; merge requires it unchanged
    url: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def is_change(self) -> bool:
        return self.action is not Action.NONE and bool(self.diff)

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "action": self.action.value,
            "service": self.service,
            "namespace": self.namespace,
        }
        if self.commit:
            data["commit"] = self.commit
        data["changes"] = [c.public() for c in self.changes]
        data["diff"] = self.diff
        if self.title:
            data["title"] = self.title
        if self.rationale:
            data["rationale"] = self.rationale
        return data
