"""The watch where evidence is missing: Prometheus away, nothing to check, no incident thread,
and the GitOps application name template. Real SQLite, real git; Prometheus is a closed port."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.gitops_status import GitOpsStatus
from bot.adapters.prometheus import PrometheusMetrics
from bot.adapters.store import SqlStore
from bot.domain.approval import Decision
from bot.domain.audit import AuditKind
from bot.domain.errors import InvalidInput
from bot.domain.proposal import Action
from bot.ports.store import IncidentRecord
from testkit.gitops import make_remote, scale_proposal
from testkit.promserver import free_port
from tests.verify.conftest import (
    APPROVER,
    MERGED,
    Clock,
    RecordingChat,
    merge_fix,
    settings_for,
    workflow_for,
)


@pytest.fixture
def closed_prometheus() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens: every query fails fast


def test_prometheus_away_keeps_the_watch_pending_and_says_nothing(
    store: SqlStore, tmp_path: Path, closed_prometheus: str
) -> None:
    service, chat, clock, _, proposal_id = merge_fix(
        "stuck", store, tmp_path, closed_prometheus, gitops_tool="argocd"
    )
    assert "GitOps sync status unavailable: cannot connect to Prometheus" in str(chat.posts[0].blocks)
    clock.set(MERGED + 45 * 60)  # past the window, but no evidence could be read
    assert service.tick() == [] and len(chat.posts) == 1
    assert [w.proposal.id for w in service.due()] == [proposal_id]  # the next tick tries again
    assert AuditKind.VERIFIED.value not in [e.kind for e in store.audit_trail(proposal_id)]


def test_nothing_to_check_is_not_recovered_without_a_revert(
    store: SqlStore, tmp_path: Path, closed_prometheus: str
) -> None:
    def blind(incident: IncidentRecord) -> IncidentRecord:  # no alert rule, no metric evidence
        assert incident.report is not None
        report = incident.report.model_copy(update={"root_causes": []})
        return incident.model_copy(update={"alert": None, "report": report})

    service, chat, clock, _, proposal_id = merge_fix("stuck", store, tmp_path, closed_prometheus, blind)
    clock.set(MERGED + 10 * 60)
    assert service.tick() == []  # pending inside the window
    clock.set(MERGED + 30 * 60)
    [(_, verdict)] = service.tick()
    assert verdict.status == "not_recovered" and "nothing was checked" in verdict.observation
    assert "no revert is proposed" in chat.texts()[-1]
    assert [p for p in store.list_proposals() if p.action is Action.REVERT] == []
    [verified] = [e for e in store.audit_trail(proposal_id) if e.kind == AuditKind.VERIFIED.value]
    assert verified.data["signals"] == 0 and verified.data["revert_error"] == "no signal to verify against"


def test_a_merge_outside_an_incident_thread_is_not_watched(
    store: SqlStore, tmp_path: Path, closed_prometheus: str
) -> None:
    remote = make_remote(tmp_path / "gitops")
    clock = Clock(MERGED)
    config = settings_for(closed_prometheus)
    chat = RecordingChat()
    watch = wiring.merge_watch(config, store, chat, clock=clock)
    assert watch is not None
    workflow = workflow_for(store, remote, tmp_path, clock, config, listeners=[watch])
    service = wiring.post_merge(config, store, chat, workflow, wiring.git_history(remote.work))
    assert service is not None
    opened = workflow.open(workflow.submit(scale_proposal(remote.work), requested_by="U_ONCALL").id)
    assert workflow.decide(opened.id, APPROVER, Decision.APPROVE).merged
    assert chat.posts == [] and service.due() == []
    assert (
        wiring.post_merge(settings_for(closed_prometheus, verify_enabled=False), store, chat, workflow, None)
        is None
    )
    assert wiring.merge_watch(settings_for(closed_prometheus, verify_enabled=False), store, chat) is None


def test_application_name_template(closed_prometheus: str) -> None:
    metrics = PrometheusMetrics(closed_prometheus)
    status = GitOpsStatus(
        metrics, settings_for(closed_prometheus, gitops_tool="flux", gitops_app="{namespace}-{service}")
    )
    assert status.app_name("checkout", "shop") == "shop-checkout"
    wrong = GitOpsStatus(
        metrics, settings_for(closed_prometheus, gitops_tool="argocd", gitops_app="{team}-{service}")
    )
    with pytest.raises(InvalidInput, match="use \\{service\\} and \\{namespace\\}"):
        wrong.app_name("checkout", "shop")
    off = GitOpsStatus(metrics, settings_for(closed_prometheus))
    assert not off.configured and off.status("checkout", "shop", Clock(MERGED)()) is None
