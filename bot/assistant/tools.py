"""The tools the model may call: declarative queries, repository reads, the investigation's
evidence, and a typed change suggestion. None of them can change anything."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, get_args

from bot.assistant.compress import for_model, summarise_logs, summarise_series
from bot.assistant.context import numbered_evidence
from bot.assistant.proposals import ModelAction, ModelField, safe_repo_path
from bot.assistant.toolsets import DURATION, ToolSpec
from bot.domain.deadline import Deadline
from bot.domain.errors import TugboatError
from bot.domain.report import InvestigationReport
from bot.ports.gitrepo import GitHistory
from bot.ports.logs import LogSource
from bot.ports.metrics import MetricsSource
from bot.ports.workspace import CurrentWorkspace

PROPOSE_CHANGE = "propose_change"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_MANIFEST_BYTES = 64_000


def duration_seconds(text: str) -> float:
    m = DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return float(text[: -len(m.group(1))]) * _UNITS[m.group(1)]


@dataclass
class ToolContext:
    """What tools may read, as of one instant (never the wall clock)."""

    at: datetime
    report: InvestigationReport | None = None
    metrics: MetricsSource | None = None
    logs: LogSource | None = None
    git: GitHistory | None = None
    repo_dir: Path | None = None
    workspace: CurrentWorkspace | None = None  # opens the manifests of ``repo_dir``
    output_tokens: int = 600
    deadline: Deadline | None = None  # the answer's: a tool's source calls end by then too


@dataclass(frozen=True)
class AssistantTool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any]], str]
    source: str = "builtin"

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass
class ToolRuns:
    """What the tools were asked, for the audit trail."""

    calls: list[dict[str, Any]] = field(default_factory=list)


def _promql_tool(spec: ToolSpec, ctx: ToolContext, metrics: MetricsSource) -> AssistantTool:
    def run(args: dict[str, Any]) -> str:
        query = spec.render_promql(args)
        if spec.instant:
            series = metrics.instant(query, ctx.at, deadline=ctx.deadline)
        else:
            window = duration_seconds(spec.lookback)
            step = max(window / 60, 15.0)
            series = metrics.range(
                query, ctx.at - timedelta(seconds=window), ctx.at, step, deadline=ctx.deadline
            )
        return summarise_series(series)  # the query is in the audit trail, not worth prompt tokens

    return AssistantTool(spec.name, spec.description, spec.args_schema(), run, source="promql")


def _logql_tool(spec: ToolSpec, ctx: ToolContext, logs: LogSource) -> AssistantTool:
    def run(args: dict[str, Any]) -> str:
        query = spec.render_logql(args)
        window = duration_seconds(spec.lookback)
        lines = logs.query(query, ctx.at - timedelta(seconds=window), ctx.at, deadline=ctx.deadline)
        return summarise_logs(lines)

    return AssistantTool(spec.name, spec.description, spec.args_schema(), run, source="logql")


def _evidence_tool(ctx: ToolContext) -> AssistantTool:
    def run(args: dict[str, Any]) -> str:
        wanted = set(args.get("ids") or [])
        evidence = numbered_evidence(ctx.report) if ctx.report else []
        lines = [
            f"[{e.id}] {e.source}: {e.observation}"
            + (f"\n  query: {e.query}" if e.query else "")
            + (f"\n  commit: {e.commit}" if e.commit else "")
            for e in evidence
            if not wanted or e.id in wanted
        ]
        return "\n".join(lines) or "no such evidence"

    schema = {
        "type": "object",
        "properties": {"ids": {"type": "array", "items": {"type": "string"}}},
    }
    return AssistantTool(
        "investigation_evidence", "Full text of evidence items (all, or by id).", schema, run
    )


def _manifest_tool(ctx: ToolContext, repo_dir: Path) -> AssistantTool:
    def run(args: dict[str, Any]) -> str:
        path = safe_repo_path(repo_dir, str(args.get("path", "")))
        if not path.is_file():
            return f"no such file in the repository: {args.get('path')}"
        data = path.read_bytes()[:MAX_MANIFEST_BYTES]
        return data.decode("utf-8", errors="replace")

    schema = {
        "type": "object",
        "properties": {"path": {"type": "string", "description": "path relative to the repository root"}},
        "required": ["path"],
    }
    return AssistantTool("read_manifest", "Read a manifest file from the GitOps repository.", schema, run)


def _commits_tool(ctx: ToolContext, git: GitHistory) -> AssistantTool:
    def run(args: dict[str, Any]) -> str:
        workload = str(args.get("workload", ""))
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", workload):
            raise ValueError("workload must be a Kubernetes name")
        hours = min(max(int(args.get("hours", 24)), 1), 24 * 14)
        commits = git.commits(ctx.at - timedelta(hours=hours), ctx.at, max_count=200, deadline=ctx.deadline)
        hits = [c for c in commits if workload in c.subject or any(workload in f.path for f in c.files)][:10]
        if not hits:
            return f"no commits touching {workload} in the last {hours}h"
        return "\n".join(
            f"{c.sha[:12]} {c.at.isoformat(timespec='minutes')} {c.author}: {c.subject}"
            f" (files: {', '.join(f.path for f in c.files[:4])})"
            for c in hits
        )

    schema = {
        "type": "object",
        "properties": {
            "workload": {"type": "string", "description": "Deployment name"},
            "hours": {"type": "integer", "description": "look-back, at most 336"},
        },
        "required": ["workload"],
    }
    return AssistantTool("recent_commits", "Recent commits that touched a workload.", schema, run)


def propose_change_tool() -> AssistantTool:
    """A compact hand-written schema (pydantic's costs 400 tokens per call); the service parses
    the arguments into ``ModelProposal`` and validates them (see ``Assistant``)."""
    actions = list(get_args(ModelAction))
    fields = list(get_args(ModelField))
    schema = {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": actions},
            "workload": {"type": "string"},
            "field": {"type": "string", "enum": fields},
            "value": {"type": "string", "description": "replicas, CPU cores or 500m, memory like 512Mi"},
            "reason": {"type": "string"},
        },
        "required": ["action", "workload", "field", "value"],
    }
    return AssistantTool(
        PROPOSE_CHANGE,
        "Suggest one manifest change for people to review; policy code validates it.",
        schema,
        lambda args: "validated by the service",
    )


def build_tools(
    ctx: ToolContext, specs: dict[str, ToolSpec], *, allow_proposals: bool
) -> dict[str, AssistantTool]:
    """Tools whose data source exists; a tool that cannot run is not offered (and costs no tokens)."""
    tools: list[AssistantTool] = []
    if ctx.report is not None:
        tools.append(_evidence_tool(ctx))
    for spec in specs.values():
        if spec.promql and ctx.metrics is not None:
            tools.append(_promql_tool(spec, ctx, ctx.metrics))
        elif spec.logql and ctx.logs is not None:
            tools.append(_logql_tool(spec, ctx, ctx.logs))
    if ctx.repo_dir is not None:
        tools.append(_manifest_tool(ctx, ctx.repo_dir))
    if ctx.git is not None:
        tools.append(_commits_tool(ctx, ctx.git))
    if allow_proposals:
        tools.append(propose_change_tool())
    return {t.name: t for t in tools}


def run_tool(tool: AssistantTool, args: dict[str, Any], budget_tokens: int) -> str:
    """Run a tool; errors become text the model can read. Output is redacted and cut to budget."""
    try:
        out = tool.run(args)
    except (TugboatError, ValueError, TypeError, OSError) as exc:
        out = f"error: {exc}"
    return for_model(out, budget_tokens)
