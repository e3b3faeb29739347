"""Audit events for the steps before a proposal: the alert arrived, the investigation ran.

Proposal steps are recorded by ProposalWorkflow; these two complete the trail from alert to merge.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.alert import AlertGroup, now_utc
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.report import InvestigationReport
from bot.ports.store import Store


def alert_received(store: Store, group: AlertGroup, at: datetime | None = None) -> AuditEvent:
    return store.append_audit(alert_received_event(group, at))


def alert_received_event(group: AlertGroup, at: datetime | None = None) -> AuditEvent:
    return AuditEvent(
        at=at or now_utc(),
        kind=AuditKind.ALERT_RECEIVED.value,
        actor="alertmanager",
        data={
            "group_key": group.group_key,
            "status": group.status,
            "alert": group.primary.name,
            "fingerprints": sorted(a.fingerprint for a in group.alerts if a.fingerprint),
        },
    )


def investigation_done(
    store: Store, group: AlertGroup, report: InvestigationReport, at: datetime | None = None
) -> AuditEvent:
    top = report.top
    data: dict[str, object] = {
        "group_key": group.group_key,
        "as_of": report.at.isoformat(),
        "duration_s": round(report.duration_s, 3),
        "top_cause": {"kind": top.kind.value, "service": top.service, "confidence": round(top.confidence, 3)}
        if top
        else None,
        "proposal": report.proposal.action.value if report.proposal else None,
        "degraded_sources": [s.name for s in report.sources if not s.ok],
    }
    if report.llm:
        data["llm"] = report.llm.model_dump()
    return store.append_audit(
        AuditEvent(at=at or now_utc(), kind=AuditKind.INVESTIGATION.value, actor="tugboat", data=data)
    )
