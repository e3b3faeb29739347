"""No internal enum value reaches a person: Slack messages, PR titles and bodies, and the CLI
speak in words (``bad deploy``, ``raise the memory limit of``), never in ``bad_deploy`` or
``set_memory_limit``. Machine-readable output (``--json``, stored data) keeps the values."""

from __future__ import annotations

import importlib
import io
import pkgutil
import re
import typing
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

import bot.domain
from bot.adapters.github.body import pr_body, pr_labels, pr_title
from bot.adapters.slack import blocks
from bot.analysis.kinds import KINDS
from bot.assistant.context import deterministic_narrative
from bot.cli.investigate_cmd import _show
from bot.cli.main import app
from bot.domain.proposal import Action, Proposal
from bot.domain.report import CauseKind, Evidence, InvestigationReport, RootCause
from testkit.llm_samples import cpu_limit_report, memory_report

AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def internal_values() -> set[str]:
    """Every value of the domain's StrEnums and Literals that reads as an identifier (``a_b`` or
    ``a.b``); single plain words such as ``scale`` or ``open`` are English as well."""
    values: set[str] = set()
    for info in pkgutil.iter_modules(bot.domain.__path__):
        module = importlib.import_module(f"bot.domain.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, StrEnum) and obj is not StrEnum:
                values |= {m.value for m in obj}
            elif isinstance(obj, type) and hasattr(obj, "model_fields"):
                for field in obj.model_fields.values():
                    if typing.get_origin(field.annotation) is typing.Literal:
                        values |= {a for a in typing.get_args(field.annotation) if isinstance(a, str)}
            elif typing.get_origin(obj) is typing.Literal:
                values |= {a for a in typing.get_args(obj) if isinstance(a, str)}
    return {v for v in values if re.fullmatch(r"[a-z][a-z0-9]*([_.][a-zA-Z0-9]+)+", v)}


VALUES = internal_values()
TOKEN = re.compile(
    r"(?<![\w./-])(" + "|".join(sorted(map(re.escape, VALUES), key=len, reverse=True)) + r")(?![\w/-])"
)


def leaks(text: str) -> list[str]:
    return sorted(set(TOKEN.findall(text)))


def visible(blocks_: list[dict[str, Any]]) -> str:
    """The text Slack shows of a message: its text objects, not action ids or button values."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                out.append(node["text"])
            for key, value in node.items():
                if key not in ("action_id", "value", "block_id", "callback_id", "private_metadata"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks_)
    return "\n".join(out)


def every_kind_report() -> InvestigationReport:
    """One cause of each registered kind and a proposal, as the renderers receive them."""
    causes = [
        RootCause(
            kind=name,
            service=f"svc{i}",
            namespace="shop",
            confidence=0.5 - i * 0.05,
            commit="3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39" if name is CauseKind.BAD_DEPLOY else None,
            evidence=[Evidence(id=f"E{i}", source="prometheus", observation=f"svc{i} moved")],
        )
        for i, name in enumerate(KINDS)
    ]
    proposal = Proposal(action=Action.SET_CPU_REQUEST, service="svc0", namespace="shop", rationale="more CPU")
    return InvestigationReport(
        alert_name="HighLatency",
        service="svc0",
        namespace="shop",
        at=AT,
        summary="svc0 is slow",
        root_causes=causes,
        proposal=proposal,
    )


def test_the_domain_has_identifier_like_values_to_look_for() -> None:
    assert {"bad_deploy", "memory_limit", "set_memory_limit", "proposal.merged"} <= VALUES
    assert leaks("Less likely: bad_deploy in x; set_memory_limit payments") == [
        "bad_deploy",
        "set_memory_limit",
    ]
    assert leaks("Less likely: bad deploy in x; raise the memory limit of payments") == []


def test_every_kind_has_words_of_its_own() -> None:
    assert set(KINDS) == set(CauseKind)
    for name, kind in KINDS.items():
        assert kind.name is name and kind.label and kind.phrase and not leaks(kind.label + " " + kind.phrase)


@pytest.mark.parametrize("make", [cpu_limit_report, memory_report, every_kind_report])
def test_rendered_reports_speak_in_words(make: Any, capsys: pytest.CaptureFixture[str]) -> None:
    report = make()
    texts = {
        "slack investigation": visible(blocks.investigation(report)),
        "PR body": pr_body(report.proposal, report) if report.proposal else "",
        "answer without a model": deterministic_narrative(report),
    }
    if report.proposal is not None:
        texts["slack proposal"] = visible(blocks.proposal_blocks(report.proposal, with_buttons=True))
        untitled = report.proposal.model_copy(update={"title": ""})
        texts["PR title (from the action)"] = pr_title(untitled)
        texts["PR body (from the action)"] = pr_body(untitled, report)
        texts["PR labels"] = ", ".join(pr_labels(report.proposal))
    _show(report)
    texts["investigate"] = capsys.readouterr().out
    assert {where: leaks(text) for where, text in texts.items() if leaks(text)} == {}
    assert all(KINDS[rc.kind].label in texts["slack investigation"] for rc in report.root_causes[:3])


def test_every_action_labels_its_pull_request_in_words() -> None:
    for action in Action:
        labels = pr_labels(Proposal(action=action, service="svc0", namespace="shop", title="t"))
        assert labels[0] == "tugboat" and leaks(" ".join(labels)) == [], labels
        assert len(labels) == (1 if action is Action.NONE else 2)


def test_the_demo_its_pr_and_its_audit_trail_speak_in_words(tmp_path: Path) -> None:
    from bot.adapters.store import SqlStore
    from bot.demo.runner import run_demo

    out = io.StringIO()
    result = run_demo(Console(file=out, width=200), yes=True, workdir=tmp_path / "d")
    assert result.merged and result.proposal_id
    text = out.getvalue()
    assert "Less likely:" in text and leaks(text) == []
    url = f"sqlite:///{tmp_path / 'd' / 'tugboat.db'}"
    with SqlStore.open(url) as store:
        proposal = store.get_proposal(result.proposal_id)
    assert proposal is not None
    title, body = pr_title(proposal), pr_body(proposal)
    assert "memory limit" in title and leaks(title) == [] and leaks(body) == []
    shown = CliRunner().invoke(app, ["audit", "show", "--database-url", url])
    assert shown.exit_code == 0, shown.output
    assert "investigation completed" in shown.output and leaks(shown.output) == []
    verified = CliRunner().invoke(app, ["audit", "verify", "--database-url", url])
    assert verified.exit_code == 0 and leaks(verified.output) == [], verified.output
    raw = CliRunner().invoke(app, ["audit", "show", "--json", "--database-url", url])
    assert "investigation.completed" in raw.output  # machine-readable output keeps the values
