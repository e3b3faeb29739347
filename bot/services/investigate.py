"""The investigate use case: gather evidence through the ports, analyse it, size a fix.

A failure of one source (Prometheus, logs, git, the manifests) degrades the report and is named
in ``report.sources`` and ``report.notes``; it never fails the investigation. The whole
investigation has a wall-clock budget (``investigation_budget_s``): every source call ends by
then, and a source still busy at the end is reported as slow, not waited for.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from bot.analysis import lognotes
from bot.analysis.commits import Describe, describe_fallback
from bot.analysis.context import build_context
from bot.analysis.crosscheck import disagreement, no_op
from bot.analysis.degraded import without_metrics
from bot.analysis.fallback import ranked_causes
from bot.analysis.fetched import Fetched
from bot.analysis.gather import Gatherer
from bot.analysis.hypotheses import is_symptomatic, onset_of
from bot.analysis.kinds import KINDS, Kinds, label
from bot.analysis.narrative import graphs, summary
from bot.analysis.ranking import rank, to_root_causes
from bot.analysis.signals import build, data_start
from bot.analysis.sizing import RemediationIntent, size
from bot.analysis.workloads import resolve_alert_workload
from bot.domain.alert import AlertGroup
from bot.domain.deadline import Deadline
from bot.domain.errors import TugboatError
from bot.domain.graph import GraphSpec
from bot.domain.proposal import Action, FieldChange, Proposal, action_words
from bot.domain.report import InvestigationReport, SourceStatus
from bot.ports.gitrepo import Commit, GitHistory, WorkloadChange
from bot.ports.logs import LineFilter, LogLine, LogQuery, LogSource, Matcher
from bot.ports.metrics import MetricsSource
from bot.ports.workspace import CurrentWorkspace, ManifestWorkspace
from bot.settings import Settings

log = logging.getLogger(__name__)

COMMIT_LOOKBACK = timedelta(hours=3)
LOG_LIMIT = 20000
# A source that honours the deadline reports its own, more precise timeout within this margin.
GRACE_S = 1.0
T = TypeVar("T")


def baseline_until(first: float, at: float, alert_start: float | None) -> float:
    """End of the baseline: the first half of the recording, and before the alert began."""
    span = max(at - first, 0.0)
    end = first + span / 2
    if alert_start is not None:
        end = min(end, alert_start - 15 * 60)
    return max(end, first + min(20 * 60, span * 0.3))


def _by_deadline(
    future: Future[tuple[T, SourceStatus]], deadline: Deadline, name: str, instead: T
) -> tuple[T, SourceStatus]:
    """A source's answer, or ``instead`` and a status naming it as slow when the budget ran out."""
    try:
        return future.result(timeout=deadline.remaining() + GRACE_S)
    except FutureTimeout:
        log.warning("%s gave no answer within %s", name, deadline.describe())
        return instead, SourceStatus(name=name, ok=False, detail=f"no answer within {deadline.describe()}")


def _short(detail: str) -> str:
    """A source's failure for the summary: without the query key in front or the query behind."""
    return re.sub(r"\s*\(query: .*\)$", "", re.sub(r"^[a-z_0-9]+: ", "", detail), flags=re.S)


@dataclass
class Investigation:
    report: InvestigationReport
    graphs: list[GraphSpec] = field(default_factory=list)


class Investigator:
    def __init__(
        self,
        metrics: MetricsSource | None,
        logs: LogSource | None,
        history: GitHistory | None,
        repo_root: Path | str | None,
        settings: Settings,
        *,
        workspace: CurrentWorkspace | None = None,
        describe: Describe = describe_fallback,
        kinds: Kinds = KINDS,
    ) -> None:
        """``workspace`` opens the manifests of ``repo_root``, which proposals are planned on;
        ``describe`` tells which workloads a commit changed (the root passes the reader of the
        commit's YAML; the fallback looks for the workloads' names in the changed lines);
        ``kinds`` are the cause kinds with their configured thresholds."""
        self.metrics, self.logs, self.history = metrics, logs, history
        self.repo_root = Path(repo_root) if repo_root else None
        self.settings = settings
        self.workspace = workspace
        self._describe = describe
        self.kinds = kinds
        self.graphs: list[GraphSpec] = []

    def run(self, group: AlertGroup, at: datetime) -> InvestigationReport:
        return self.investigate(group, at).report

    def investigate(self, group: AlertGroup, at: datetime) -> Investigation:
        t0 = time.monotonic()
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        alert = group.primary
        labels = {**group.common_labels, **alert.labels}
        namespace = labels.get("namespace")
        lookback = self.settings.lookback_minutes
        sources: list[SourceStatus] = []
        notes: list[str] = []
        start = at - timedelta(minutes=lookback)
        deadline = Deadline(self.settings.investigation_budget_s, "the investigation")
        # Not a with-block: its exit would wait for a source that ignores the deadline.
        pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tugboat-sources")
        f_metrics = pool.submit(self._metrics, namespace, at, alert.expr, deadline)
        f_commits = pool.submit(self._commits, at - COMMIT_LOOKBACK, at, deadline)
        f_logs = pool.submit(self._logs, namespace, start, at, deadline)
        f_manifests = pool.submit(self._open_manifests)
        empty = Gatherer.empty(namespace, at, lookback)
        data, m_status = _by_deadline(f_metrics, deadline, "prometheus", empty)
        commits, g_status = _by_deadline(f_commits, deadline, "git", [])
        lines, l_status = _by_deadline(f_logs, deadline, "logs", [])
        manifests, p_status = _by_deadline(f_manifests, deadline, "manifests", None)
        pool.shutdown(wait=False, cancel_futures=True)
        sources += [m_status, l_status, g_status, p_status]
        if deadline.expired:
            notes.append(f"{deadline.describe()} ran out; the report uses what had arrived by then")
        notes += [f"{s.name}: {s.detail}" for s in sources if not s.ok]
        notes += data.failures[0 if m_status.ok else 1 : 5]  # a failed source's first is its status

        alert_start = group.started_at.timestamp() if group.started_at else None
        baseline_end = baseline_until(data_start(data), at.timestamp(), alert_start)
        signals = build(data, baseline_end)
        repo_names = self._repo_workloads(manifests)
        known = set(signals) | repo_names | data.ownership.known
        workload = resolve_alert_workload(labels, data.ownership, known)
        changes = self._changes(commits, sorted(known))
        ctx = build_context(
            data, signals, at.timestamp(), baseline_end, labels, workload, data.alert_series, changes
        )
        onsets = {
            n: o
            for n, s in signals.items()
            if is_symptomatic(s, baseline_end) and (o := onset_of(s, since=baseline_end)) is not None
        }
        ctx.log_notes = lognotes.notes(lines, onsets, data.ownership.workload_of_pod, known)

        ranked = ranked_causes(ctx, self.kinds)
        if not data.ok:  # no metrics: the changes and the logs still rank, as leads
            leads = without_metrics(ctx, lines, data.ownership.workload_of_pod, start.timestamp())
            ranked = rank(ranked + leads)
        top = ranked[0] if ranked else None
        intent = size(top, self.settings.policy, self.kinds) if top else None
        proposal = (
            self._proposal(intent, label(top.kind) if top else "", namespace, manifests, notes)
            if intent
            else None
        )
        specs = graphs(ctx, top)
        report = InvestigationReport(
            alert_name=alert.name,
            service=workload,
            namespace=namespace,
            at=at,
            summary=summary(alert.name, ctx, ranked, intent, self._missing(sources)),
            root_causes=to_root_causes(ranked, namespace),
            proposal=proposal,
            sources=sources,
            duration_s=time.monotonic() - t0,
            notes=notes,
        )
        self.graphs = specs
        return Investigation(report, specs)

    # -- sources --------------------------------------------------------------------------
    def _metrics(
        self, namespace: str | None, at: datetime, expr: str | None, deadline: Deadline | None = None
    ) -> tuple[Fetched, SourceStatus]:
        if self.metrics is None:
            empty = Gatherer.empty(namespace, at, self.settings.lookback_minutes)
            return empty, SourceStatus(name="prometheus", ok=False, detail="no Prometheus configured")
        gatherer = Gatherer(
            self.metrics,
            namespace,
            at,
            self.settings.lookback_minutes,
            expr,
            history_minutes=self.settings.history_minutes,
            deadline=deadline,
        )
        data = gatherer.fetch()
        if not data.ok:
            detail = _short(data.failures[0]) if data.failures else "no metrics in the window"
            return data, SourceStatus(name="prometheus", ok=False, detail=detail)
        detail = f"{len(data.queries)} queries, {len(data.failures)} failed"
        return data, SourceStatus(name="prometheus", ok=True, detail=detail)

    def _commits(
        self, since: datetime, until: datetime, deadline: Deadline | None = None
    ) -> tuple[list[Commit], SourceStatus]:
        if self.history is None:
            return [], SourceStatus(name="git", ok=False, detail="no repository")
        try:
            commits = self.history.commits(since, until, deadline=deadline)
        except TugboatError as exc:
            return [], SourceStatus(name="git", ok=False, detail=str(exc))
        except Exception as exc:  # git output we cannot parse must not sink the report
            log.warning("git history failed: %s", exc)
            return [], SourceStatus(name="git", ok=False, detail=f"{type(exc).__name__}: {exc}")
        return commits, SourceStatus(
            name="git", ok=True, detail=f"{len(commits)} commits since {since:%H:%M}"
        )

    def _logs(
        self, namespace: str | None, start: datetime, end: datetime, deadline: Deadline | None = None
    ) -> tuple[list[LogLine], SourceStatus]:
        if self.logs is None:
            return [], SourceStatus(name="logs", ok=False, detail="no log source")
        if not namespace:
            return [], SourceStatus(name="logs", ok=False, detail="the alert names no namespace")
        query = LogQuery(
            (Matcher("namespace", "=", namespace),), (LineFilter("|~", lognotes.ERROR_PATTERN),), LOG_LIMIT
        )
        try:
            lines = self.logs.query(query, start, end, deadline=deadline)
        except Exception as exc:  # any log backend failure degrades the report
            return [], SourceStatus(name="logs", ok=False, detail=str(exc)[:300])
        return lines, SourceStatus(name="logs", ok=True, detail=f"{len(lines)} error lines")

    def _open_manifests(self) -> tuple[ManifestWorkspace | None, SourceStatus]:
        if self.workspace is None:
            return None, SourceStatus(name="manifests", ok=False, detail="no repository")
        try:
            manifests = self.workspace()
        except Exception as exc:  # unreadable manifests degrade the proposal only
            return None, SourceStatus(name="manifests", ok=False, detail=str(exc)[:300])
        return manifests, SourceStatus(name="manifests", ok=True)

    def _missing(self, sources: list[SourceStatus]) -> dict[str, str]:
        """Sources the summary must name as missing: metrics always, logs and changes when they
        were configured and failed (a setup without Loki is not news in every report)."""
        configured = {"prometheus": True, "logs": self.logs is not None, "git": self.history is not None}
        words = {"prometheus": "metrics", "logs": "logs", "git": "changes"}
        return {
            words[s.name]: _short(s.detail)
            for s in sources
            if s.name in words
            and not s.ok
            and configured[s.name]
            and s.detail != "the alert names no namespace"
        }

    def _repo_workloads(self, manifests: ManifestWorkspace | None) -> set[str]:
        if manifests is None:
            return set()
        try:
            return {w.name for w in manifests.workloads()}
        except Exception:
            return set()

    def _changes(self, commits: list[Commit], workloads: list[str]) -> list[WorkloadChange]:
        describe = self._describe
        out: list[WorkloadChange] = []
        for commit in commits:
            try:
                out += describe(commit, workloads)
            except Exception as exc:  # one odd commit must not hide the others
                log.warning("cannot classify commit %s: %s", commit.sha[:8], exc)
                out += describe_fallback(commit, workloads)
        return out

    # -- proposal -------------------------------------------------------------------------
    def _proposal(
        self,
        intent: RemediationIntent,
        kind: str,
        namespace: str | None,
        manifests: ManifestWorkspace | None,
        notes: list[str],
    ) -> Proposal:
        base = Proposal(
            action=intent.action,
            service=intent.workload,
            namespace=namespace,
            commit=intent.commit,
            title=f"{kind}: {action_words(intent.action, intent.workload)}",
            rationale=intent.rationale,
            created_at=datetime.now(UTC),
        )
        if intent.action is Action.NONE:
            return base
        if intent.action is Action.REVERT:
            return self._revert(base, intent, notes)
        if manifests is None:
            notes.append("no manifest repository: the proposal has no diff")
            return base
        value = intent.value
        try:
            eff = manifests.effective(intent.workload, intent.field or "", None)
            if eff.field == "hpa.maxReplicas" and isinstance(eff.value, int) and value is not None:
                # An HPA owns the count: raise its ceiling, never lower it.
                cap = int(eff.value * self.settings.policy.max_replica_factor)
                value = min(max(int(value), eff.value + 1), max(cap, eff.value + 1))
            field = eff.field or intent.field or ""
            if field == (intent.field or "") and (
                why := disagreement(field, eff.value, intent.current, eff.file)
            ):
                notes.append(why)  # never present a no-op, or an edit the cluster does not run, as a fix
                return base
            planned = manifests.plan(intent.workload, intent.field or "", value, None)
        except Exception as exc:  # the manifest could not be located or edited
            notes.append(f"manifests: cannot plan {intent.field} for {intent.workload}: {exc}")
            return base
        notes.extend(n for n in planned.notes if n)
        changes = list(planned.changes)
        if not planned.diff or (changes and (why := no_op(field, changes[0].from_, changes[0].to))):
            notes.append(why if changes and why else f"the manifests already set {field}: no diff")
            return base
        return base.model_copy(update={"changes": changes, "diff": planned.diff})

    def _revert(self, base: Proposal, intent: RemediationIntent, notes: list[str]) -> Proposal:
        if self.history is None or not intent.commit:
            notes.append("no repository: the revert has no diff")
            return base
        try:
            diff = self.history.revert_diff(intent.commit)
        except Exception as exc:  # a conflicting revert still names the commit to revert
            notes.append(f"git: cannot compute the revert of {intent.commit[:8]}: {exc}")
            return base
        changes = [
            FieldChange(file=c["file"], field=c["field"], **{"from": c.get("to")}, to=c.get("from"))
            for c in intent.reverted
            if c.get("file") and c.get("field")
        ]
        return base.model_copy(update={"diff": diff, "changes": changes})
