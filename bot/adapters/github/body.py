"""Pull request title, body and labels: the evidence a reviewer needs, as Markdown.

Evidence observations and summaries may quote logs or annotations, so they are treated as
untrusted text: mentions are defused and HTML comments and raw tags are escaped, so nothing
in them can ping people, hide text from the rendered page, or pose as Tugboat's own footer.
Tugboat never reads a PR body back to decide anything.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from bot.analysis.kinds import label
from bot.domain.proposal import ACTION_LABELS, Proposal, action_words, field_words
from bot.domain.report import InvestigationReport

FOOTER_MARK = "Drafted by Tugboat"
MAX_BODY_CHARS = 60_000  # GitHub refuses bodies over 65,536 characters
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")


def pr_title(proposal: Proposal) -> str:
    lines = proposal.title.strip().splitlines()
    title = lines[0] if lines else action_words(proposal.action, proposal.service)
    return f"[tugboat] {inert(title)}"[:120]


def pr_labels(proposal: Proposal) -> list[str]:
    """``tugboat`` and what the change does, in words (``memory limit``), never an internal value."""
    action = ACTION_LABELS.get(proposal.action)
    return ["tugboat", action] if action else ["tugboat"]


def query_link(expr: str, prometheus_url: str | None, grafana_url: str | None) -> str | None:
    """A link that opens ``expr`` in Prometheus's graph page, else Grafana Explore, else None."""
    if prometheus_url:
        params = urlencode({"g0.expr": expr, "g0.tab": "0", "g0.range_input": "2h"}, quote_via=quote)
        return f"{prometheus_url.rstrip('/')}/graph?{params}"
    if grafana_url:
        left = json.dumps(
            {"queries": [{"refId": "A", "expr": expr}], "range": {"from": "now-2h", "to": "now"}}
        )
        return f"{grafana_url.rstrip('/')}/explore?left={quote(left, safe='')}"
    return None


def pr_body(
    proposal: Proposal,
    report: InvestigationReport | None = None,
    *,
    prometheus_url: str | None = None,
    grafana_url: str | None = None,
) -> str:
    parts: list[str] = [f"### {inert(pr_title(proposal).removeprefix('[tugboat] '))}"]
    if report is not None:
        where = " / ".join(x for x in (report.namespace, report.service) if x)
        parts.append(
            f"**Alert:** `{_code(report.alert_name)}`"
            + (f" on `{_code(where)}`" if where else "")
            + f" at {report.at.isoformat()}"
        )
        if report.summary:
            parts.append(_quote_block(report.summary))
    elif proposal.rationale.strip():
        parts.append(_quote_block(proposal.rationale))
    if proposal.changes:
        rows = ["| file | resource | field | from | to |", "|---|---|---|---|---|"]
        for c in proposal.changes:
            resource = "/".join(x for x in (c.resource, c.container) if x) or "-"
            cells = [c.file, resource, field_words(c.field), c.from_, c.to]
            rows.append("| " + " | ".join(f"`{_code(str(v))}`" for v in cells) + " |")
        parts.append("#### Change\n" + "\n".join(rows))
    if report is not None and report.root_causes:
        parts.append("#### Root causes")
        for rank, cause in enumerate(report.root_causes, start=1):
            head = (
                f"{rank}. **{label(cause.kind)}** in `{_code(cause.service)}` "
                f"(confidence {cause.confidence:.0%})"
            )
            if cause.commit:
                head += f", commit `{_code(cause.commit[:12])}`"
            lines = [head]
            for ev in cause.evidence:
                line = f"   - {ev.id + ': ' if ev.id else ''}{inert(ev.observation)}"
                if ev.query:
                    link = query_link(ev.query, prometheus_url, grafana_url)
                    line += f" ([query]({link}))" if link else f" (`{_code(ev.query)}`)"
                lines.append(line)
            parts.append("\n".join(lines))
    if report is not None and report.llm is not None and report.llm.calls:
        cost = f"${report.llm.cost_usd:.4f}" if report.llm.cost_usd is not None else "cost unknown"
        parts.append(
            f"Model: `{_code(report.llm.model)}`, {report.llm.calls} call(s), "
            f"{report.llm.prompt_tokens + report.llm.completion_tokens} tokens, {cost}. "
            "The model wrote prose only; the change itself was computed deterministically."
        )
    parts.append(
        "---\n"
        f"<sub>{FOOTER_MARK} for proposal `{_code(proposal.id)}`. It merges only after the configured "
        "approvers say yes in Slack, and only at the commit they approved: a push by anyone "
        "else closes this pull request unmerged.</sub>"
    )
    body = "\n\n".join(parts)
    if len(body) > MAX_BODY_CHARS:
        body = body[: MAX_BODY_CHARS - 40] + "\n\n…(truncated)\n\n" + parts[-1]
    return body


def inert(text: str) -> str:
    """Untrusted prose made inert: no mentions, no HTML (comments could hide text), one line."""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b", text)


def _code(text: str) -> str:
    """Text for inside backticks: no backticks or line breaks to escape from the span."""
    return " ".join(text.replace("`", "'").split())


def _quote_block(text: str) -> str:
    lines = [inert(line) for line in text.strip().splitlines()[:40]]
    return "\n".join(f"> {line}" if line else ">" for line in lines)
