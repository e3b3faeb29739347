"""``tugboat ask`` through the console entry point and, for the model path, in-process with a
cassette."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from testkit.llm_samples import PLANTED_SECRETS, cpu_limit_report
from testkit.openai_cassettes import openai_cassette

ALERT = Path(__file__).resolve().parent.parent / "fixtures" / "alerts" / "throttling.json"
AT = "2026-11-20T10:30:00Z"


def test_no_llm_prints_the_deterministic_analysis(tmp_cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli.main import run; run()",
            "ask",
            "why is ledger throttled?",
            "--alert",
            str(ALERT),
            "--at",
            AT,
            "--no-llm",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_cwd,
    )
    assert out.returncode == 0, out.stderr
    assert "CPUThrottlingHigh" in out.stdout
    assert "LLM disabled" in out.stderr and "Traceback" not in out.stderr


def test_bad_alert_is_one_line(tmp_cwd: Path) -> None:
    bad = tmp_cwd / "bad.json"
    bad.write_text("{not json")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli.main import run; run()",
            "ask",
            "why?",
            "--alert",
            str(bad),
            "--no-llm",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_cwd,
    )
    assert out.returncode == 2 and out.stderr.startswith("error: alert payload is not JSON")


def test_json_carries_answer_usage_and_report(tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OPENAI_API_KEY", os.environ.get("OPENAI_API_KEY", "sk-test-not-a-real-key-0000000000000000")
    )
    question = f"why is ledger throttled? my key is {PLANTED_SECRETS['openai']}"
    with openai_cassette("explain_plain", rerecordable=False) as rec:
        result = CliRunner().invoke(app, ["ask", question, "--alert", str(ALERT), "--at", AT, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["answer"]["fallback"] is False
    assert doc["answer"]["llm"]["calls"] == 1 and doc["answer"]["llm"]["prompt_tokens"] == 1012
    assert doc["report"]["llm"]["completion_tokens"] == 131  # cost is visible on the report too
    assert doc["report"]["alert"] == "CPUThrottlingHigh"
    # The report has no evidence, so every [E..] the model wrote is unknown and removed.
    assert doc["answer"]["citations"] == [] and doc["answer"]["unknown_citations"] == 6
    assert PLANTED_SECRETS["openai"] not in rec.sent_text() and PLANTED_SECRETS["openai"] not in result.stdout


def test_answer_audit_event_records_cost_not_text(llm_settings) -> None:
    with openai_cassette("explain_plain", rerecordable=False):
        from bot import wiring

        answer = wiring.assistant(llm_settings()).explain(cpu_limit_report())
    event = answer.audit_event(datetime(2026, 11, 20, 10, 31, tzinfo=UTC), proposal_id="p-cpu-checkout")
    assert event.kind == "model.call" and event.data["llm"]["prompt_tokens"] == 1012
    assert event.data["llm"]["model"].startswith("gpt-4.1-mini") and "text" not in event.data
    assert event.sealed("0" * 64).hash
