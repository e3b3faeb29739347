"""What the model sees of a report (compact, cited, fenced) and what we check in its answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.analysis.kinds import label
from bot.domain.proposal import action_words, field_words
from bot.domain.report import Evidence, InvestigationReport
from bot.ports.tokens import truncate_to_tokens
from bot.security.fence import Fence
from bot.security.redact import redact

_QUERY_CHARS = 160
# Evidence ids look like E12; other bracketed text ([v2], [PR42]) is left alone.
_CITATION = re.compile(r"\[\s*(E\d+(?:\s*[,;]\s*E\d+)*)\s*\]")


def numbered_evidence(report: InvestigationReport) -> list[Evidence]:
    """The report's evidence with ids E1..En filled in where missing (first occurrence wins)."""
    out: list[Evidence] = []
    seen: set[str] = set()
    for i, ev in enumerate(report.all_evidence(), start=1):
        ev_id = ev.id or f"E{i}"
        if ev_id in seen:
            continue
        seen.add(ev_id)
        out.append(ev if ev.id else ev.model_copy(update={"id": ev_id}))
    return out


def _proposal_line(report: InvestigationReport) -> str:
    p = report.proposal
    if p is None:
        return "none"
    changes = "; ".join(
        f"{c.resource or c.file} {field_words(c.field)}: {c.from_} -> {c.to}" for c in p.changes[:6]
    )
    return f"{action_words(p.action, p.service)} ({changes or p.title or 'no field changes'})"


def report_context(report: InvestigationReport, fence: Fence, budget_tokens: int = 2500) -> str:
    """The report as the prompt carries it: causes, evidence with ids, the proposal summary.

    Everything derived from outside text (observations quote logs, commits, annotations) goes
    inside one fence; the structure around it is ours.
    """
    lines = [
        f"alert: {report.alert_name}",
        f"service: {report.service or 'unknown'}  namespace: {report.namespace or 'unknown'}",
        f"at: {report.at.isoformat()}",
        f"summary: {report.summary}",
        "causes (ranked):",
    ]
    evidence = numbered_evidence(report)
    ids_by_obs = {(e.source, e.observation): e.id for e in evidence}
    for n, rc in enumerate(report.root_causes, start=1):
        cited = [ids_by_obs.get((e.source, e.observation), e.id) for e in rc.evidence]
        commit = f" commit={rc.commit[:12]}" if rc.commit else ""
        lines.append(
            f"  {n}. {rc.kind.value} service={rc.service} confidence={rc.confidence:.2f}{commit}"
            f" evidence={','.join(i for i in cited if i) or '-'}"
        )
    if not report.root_causes:
        lines.append("  (no cause identified)")
    lines.append("evidence:")
    for e in evidence:
        extra = f" query={e.query[:_QUERY_CHARS]}" if e.query else ""
        extra += f" commit={e.commit[:12]}" if e.commit else ""
        lines.append(f"  [{e.id}] {e.source}: {e.observation}{extra}")
    lines.append(f"proposal: {_proposal_line(report)}")
    failed = [f"{s.name} ({s.detail})" if s.detail else s.name for s in report.sources if not s.ok]
    if failed:
        lines.append(f"sources that failed: {', '.join(failed)}")
    body = truncate_to_tokens("\n".join(lines), budget_tokens)
    return fence.wrap("investigation", body)


@dataclass
class CitationCheck:
    text: str
    cited: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        return bool(self.cited)


def check_citations(text: str, valid_ids: set[str]) -> CitationCheck:
    """Keep citations of known evidence ids; remove (and count) the rest."""
    check = CitationCheck(text="")

    def fix(m: re.Match[str]) -> str:
        kept: list[str] = []
        for ref in re.split(r"\s*[,;]\s*", m.group(1)):
            if ref in valid_ids:
                kept.append(ref)
                if ref not in check.cited:
                    check.cited.append(ref)
            else:
                check.unknown.append(ref)
        return f"[{', '.join(kept)}]" if kept else ""

    check.text = re.sub(r"[ \t]+([.,;:])", r"\1", _CITATION.sub(fix, text)).strip()
    return check


def deterministic_narrative(report: InvestigationReport) -> str:
    """The explanation without a model: the report's own findings, cited. Always available."""
    evidence = numbered_evidence(report)
    lines = [redact(report.summary)]
    top = report.top
    if top:
        ids = {(e.source, e.observation): e.id for e in evidence}
        refs = ", ".join(i for i in (ids.get((e.source, e.observation)) for e in top.evidence) if i)
        lines.append(
            f"Most likely cause: {label(top.kind)} in {top.service}"
            f" (confidence {top.confidence:.0%})" + (f" [{refs}]" if refs else "") + "."
        )
    for e in evidence[:6]:
        lines.append(f"- [{e.id}] {redact(e.observation)}")
    if report.proposal:
        lines.append(f"Proposed: {_proposal_line(report)}.")
    return "\n".join(lines)
