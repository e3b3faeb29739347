"""Right after a merge: say so in the incident thread and start watching whether the fix worked.

``MergeWatch`` is a ``MergeListener`` (bot/ports/merges.py), so it is built before the workflow
it listens to. It posts "Merged <branch> at <sha>", the GitOps sync status when one is
configured, and records a ``proposal.watching`` audit event: the watch's state lives in the
audit trail, so any replica (or a restarted one) picks it up. The verdict is
``PostMergeService``'s (bot/services/verify.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.alert import now_utc
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.errors import TugboatError
from bot.domain.proposal import Proposal
from bot.ports.chat import ChatNotifier, MessageLayout, ReplyTarget
from bot.ports.gitops import GitOpsSync
from bot.ports.merges import Outcome
from bot.ports.store import IncidentRecord, Store
from bot.services.recovery import Signals, service_of
from bot.settings import Settings

WATCHING = "proposal.watching"


@dataclass(frozen=True)
class Watch:
    """A merged proposal whose effect is being watched, as recorded in its audit trail."""

    proposal: Proposal
    incident_key: str
    merged_at: datetime
    merge_sha: str | None
    channel: str
    thread_ts: str
    signals: Signals | None = None  # None for watches recorded before signals were kept


@dataclass(frozen=True, eq=False)
class MergeWatch:
    store: Store
    chat: ChatNotifier
    layout: MessageLayout
    settings: Settings
    clock: Callable[[], datetime] = now_utc
    gitops: GitOpsSync | None = None

    def merged(self, proposal: Proposal, merge_sha: str | None) -> None:
        """The proposal's incident is found from its id."""
        self.start(proposal, merge_sha=merge_sha)

    def merge_finished(self, outcome: Outcome, reply_to: ReplyTarget | None) -> None:
        """Nothing to do: the thread hears of the merge itself (``merged``)."""

    def start(
        self, proposal: Proposal, incident_key: str | None = None, merge_sha: str | None = None
    ) -> Watch | None:
        """Announce the merge in the incident's thread and start watching; None when the
        proposal belongs to no incident thread (e.g. a ``/tugboat scale`` command)."""
        incident = self.store.get_incident(incident_key) if incident_key else self._incident_of(proposal)
        if incident is None or not incident.channel or not incident.thread_ts:
            return None
        if not self.store.claim_once(f"verify-watch:{proposal.id}"):
            return None  # another replica (or a retry) registered it
        merge_sha = merge_sha or self._merge_sha(proposal.id)
        signals = Signals.of(incident)
        watch = Watch(
            proposal,
            incident.group_key,
            self.clock(),
            merge_sha,
            incident.channel,
            incident.thread_ts,
            signals,
        )
        window = self.settings.verify_window_minutes
        data = {
            "incident": watch.incident_key,
            "merged_at": watch.merged_at.isoformat(),
            "merge_sha": merge_sha,
            "channel": watch.channel,
            "thread_ts": watch.thread_ts,
            "window_minutes": window,
            "signals": signals.public(),
        }
        record(self.store, self.clock(), WATCHING, proposal, data)
        where = proposal.branch or proposal.url or proposal.id
        text = (
            f":twisted_rightwards_arrows: Merged `{where}` at `{(merge_sha or 'unknown')[:10]}`; "
            f"watching for recovery for {window} min"
        )
        say(self.chat, self.layout, watch, text, self._sync_line(incident, merge_sha))
        return watch

    def _incident_of(self, proposal: Proposal) -> IncidentRecord | None:
        for incident in reversed(self.store.list_incidents()):
            if incident.report and incident.report.proposal and incident.report.proposal.id == proposal.id:
                return incident
        return None

    def _merge_sha(self, proposal_id: str) -> str | None:
        merges = [e for e in self.store.audit_trail(proposal_id) if e.kind == AuditKind.MERGED.value]
        if not merges:
            return None
        return str(merges[-1].data.get("merge_sha") or "") or None

    def _sync_line(self, incident: IncidentRecord, merge_sha: str | None) -> str | None:
        if self.gitops is None or not self.gitops.configured:
            return None
        service, namespace = service_of(incident)
        try:
            status = self.gitops.status(service, namespace, self.clock())
        except TugboatError as exc:
            return f"GitOps sync status unavailable: {exc}"
        if status is None:
            return f"{self.gitops.tool} exports no status for `{self.gitops.app_name(service, namespace)}`"
        return status.text(merge_sha)


def say(chat: ChatNotifier, layout: MessageLayout, watch: Watch, text: str, footnote: str | None) -> None:
    """A line in the watched incident's thread, with an optional footnote under it."""
    body = [layout.section(text), *([layout.context(footnote)] if footnote else [])]
    chat.post_message(watch.channel, text, body, watch.thread_ts)


def record(store: Store, at: datetime, kind: str, proposal: Proposal, data: dict[str, Any]) -> None:
    store.append_audit(AuditEvent(at=at, kind=kind, actor="tugboat", proposal_id=proposal.id, data=data))


def watch_of(proposal: Proposal, data: dict[str, Any]) -> Watch:
    """The watch a ``proposal.watching`` event recorded."""
    signals = data.get("signals")
    return Watch(
        proposal,
        str(data["incident"]),
        datetime.fromisoformat(str(data["merged_at"])),
        data.get("merge_sha"),
        str(data["channel"]),
        str(data["thread_ts"]),
        Signals.from_public(signals) if isinstance(signals, dict) else None,
    )
