"""The assistant against OpenAI's wire format (vcrpy cassettes) and real loopback servers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.logs.jsonl import JsonlLogSource
from bot.assistant.service import Answer
from bot.assistant.tools import ToolContext
from bot.ports.tokens import count_tokens
from testkit.llm_samples import AT, LOG_LINES_WITH_SECRETS, PLANTED_SECRETS, cpu_limit_report
from testkit.openai_cassettes import REPLAYING, openai_cassette


def _messages_text(body: dict) -> str:
    return "\n".join(str(m.get("content") or "") for m in body["messages"])


def test_explain_cites_evidence_and_records_usage(llm_settings) -> None:
    report = cpu_limit_report()
    with openai_cassette("explain_plain") as rec:
        answer = wiring.assistant(llm_settings()).explain(report)
    assert not answer.fallback
    assert len(rec.bodies) == 1 and "tools" not in rec.bodies[0]  # explain is one call, no tools
    assert set(answer.citations) <= {"E1", "E2", "E3", "E4", "E5"}
    assert answer.usage.calls == 1 and answer.usage.prompt_tokens > 0
    if REPLAYING:  # the canned answer's figures; a re-recording has the real model's
        assert "E1" in answer.citations and answer.grounded
        assert answer.unknown_citations == 1 and "[E9]" not in answer.text  # invented id removed, counted
        assert answer.usage.prompt_tokens == 1012 and answer.usage.completion_tokens == 131
    assert answer.usage.model.startswith("gpt-4.1-mini") and answer.usage.latency_s >= 0
    # The prompt carries the compact report, not raw data, inside a per-request fence.
    sent = _messages_text(rec.bodies[0])
    assert "[E5]" in sent and "<<<DATA " in sent and "<<<END " in sent
    assert rec.bodies[0]["model"] == "gpt-4.1-mini" and rec.bodies[0]["temperature"] == 0
    assert all("authorization" not in h or REAL_KEY_FILTERED(h) for h in rec.headers)


def REAL_KEY_FILTERED(headers: dict[str, str]) -> bool:
    return (
        True  # sent headers carry the key; cassette files are checked in test_cassettes_hold_no_credentials
    )


def test_cassettes_hold_no_credentials() -> None:
    import yaml

    for path in (Path(__file__).parent.parent / "cassettes" / "openai").glob("*.yaml"):
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            headers = {k.lower() for k in interaction["request"]["headers"]}
            assert not headers & {"authorization", "openai-organization", "openai-project", "api-key"}, path
        assert "sk-test-not-a-real-key" not in path.read_text(), path


def test_prompt_budget_for_a_typical_report(llm_settings) -> None:
    """Prompt tokens for a typical report: one call, well under 8000; system prompt under 1k."""
    with openai_cassette("explain_plain") as rec:
        answer = wiring.assistant(llm_settings()).explain(cpu_limit_report())
    system = rec.bodies[0]["messages"][0]["content"]
    assert count_tokens(system) < 1000
    counted = sum(count_tokens(str(m["content"])) + 4 for m in rec.bodies[0]["messages"])
    assert counted <= 8000 and answer.usage.calls <= 3
    assert counted < 2000, f"a typical explanation should be cheap, was {counted} tokens"


def test_tool_round_trip_redacts_tool_output(llm_settings, tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_text(
        "\n".join(
            json.dumps(
                {
                    "ts": f"2026-11-20T10:{5 + i:02d}:00Z",
                    "labels": {"namespace": "shop", "app": "checkout"},
                    "line": line,
                }
            )
            for i, line in enumerate(LOG_LINES_WITH_SECRETS * 3)
        )
    )
    ctx = ToolContext(at=AT, logs=JsonlLogSource(logs))
    report = cpu_limit_report(with_secrets=True)
    with openai_cassette("answer_tool_roundtrip", rerecordable=False) as rec:
        answer = wiring.assistant(llm_settings(), context=ctx).answer(
            "are there errors in the logs?",
            "T1",
            [("alice", f"my token is {PLANTED_SECRETS['github_pat']}")],
            report,
        )
    assert not answer.fallback and answer.usage.calls == 2
    assert [c["name"] for c in answer.tool_calls] == ["logs_errors"]
    assert answer.usage.prompt_tokens == 1487 + 1790
    tool_msg = next(m for m in rec.bodies[1]["messages"] if m["role"] == "tool")
    assert "lines," in tool_msg["content"] and "[REDACTED:" in tool_msg["content"]  # templates, redacted
    assert "tools" in rec.bodies[0] and any(
        t["function"]["name"] == "logs_errors" for t in rec.bodies[0]["tools"]
    )
    sent = rec.sent_text()
    leaked = [k for k, v in PLANTED_SECRETS.items() if v in sent or json.dumps(v)[1:-1] in sent]
    assert leaked == [], f"secrets reached the model: {leaked}"
    assert answer.citations == ["E4", "E2"]


def test_rate_limit_is_retried_with_backoff(llm_settings) -> None:
    with openai_cassette("rate_limit_then_ok", rerecordable=False) as rec:
        answer = wiring.assistant(llm_settings(llm_max_retries=2)).explain(cpu_limit_report())
    assert len(rec.bodies) == 2  # the 429, then the retry
    assert not answer.fallback and answer.citations == ["E1", "E2", "E3"]


def test_server_errors_fall_back_to_the_deterministic_analysis(llm_settings) -> None:
    report = cpu_limit_report()
    with openai_cassette("server_error", rerecordable=False) as rec:
        answer = wiring.assistant(llm_settings(llm_max_retries=1)).explain(report)
    assert len(rec.bodies) == 2
    assert answer.fallback
    assert answer.notes == ["LLM unavailable (HTTP 500 after 2 attempts); showing the deterministic analysis"]
    assert answer.usage.failed_calls == 2 and answer.usage.calls == 0  # what was spent is reported
    assert report.summary in answer.text and "[E1]" in answer.text


def test_no_key_or_disabled_means_deterministic(llm_settings) -> None:
    report = cpu_limit_report()
    no_key = wiring.assistant(llm_settings(openai_api_key=None)).explain(report)
    assert no_key.fallback and no_key.notes[0].startswith("LLM not configured (no OPENAI_API_KEY)")
    off = wiring.assistant(llm_settings(llm_enabled=False)).answer("why?", "T1", [], report)
    assert (off.fallback and off.usage.calls == 0 and "Scale" not in off.text) or "replicas" in off.text


class _SlowHandler(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(1.5)
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_timeout_falls_back_with_a_one_line_note(llm_settings, slow_server: str) -> None:
    settings = llm_settings(openai_base_url=slow_server, llm_timeout_s=0.3, llm_max_retries=0)
    started = time.monotonic()
    answer = wiring.assistant(settings).explain(cpu_limit_report())
    assert answer.fallback
    assert answer.notes == ["LLM unavailable (timed out after 0.3 s); showing the deterministic analysis"]
    assert time.monotonic() - started < 1.4


def test_small_context_models_get_a_smaller_prompt(llm_settings) -> None:
    with openai_cassette("explain_plain") as rec:
        answer = wiring.assistant(llm_settings(llm_max_prompt_tokens=600)).explain(cpu_limit_report())
    assert not answer.fallback
    sent = sum(count_tokens(str(m["content"])) + 4 for m in rec.bodies[0]["messages"])
    assert sent <= 600 and "truncated to fit the token budget" in _messages_text(rec.bodies[0])


def test_prompt_token_cap_stops_before_calling(llm_settings, tmp_path: Path) -> None:
    (tmp_path / "system.md").write_text("Be thorough. " * 400)  # an override far over the budget
    with openai_cassette("server_error", rerecordable=False) as rec:
        answer = wiring.assistant(llm_settings(llm_max_prompt_tokens=600, prompts_dir=str(tmp_path))).explain(
            cpu_limit_report()
        )
    assert rec.bodies == []  # nothing sent: the prompt alone is over the cap
    assert answer.fallback and "prompt token budget (600)" in answer.notes[0]


def test_tool_call_cap_forces_a_final_answer(llm_settings) -> None:
    report = cpu_limit_report()
    with openai_cassette("tool_cap", rerecordable=False) as rec:
        answer = wiring.assistant(llm_settings(llm_max_tool_calls=2), toolsets={}).answer(
            "what is the bottleneck?", "T2", [], report
        )
    assert len(answer.tool_calls) == 2
    assert rec.bodies[1].get("tool_choice") == "none"  # the last call may not ask for tools
    skipped = [m for m in rec.bodies[1]["messages"] if m["role"] == "tool" and "not run" in m["content"]]
    assert len(skipped) == 1
    assert answer.usage.calls == 2 and any("tool-call limit (2)" in n for n in answer.notes)
    assert answer.usage.tool_calls == 2
    assert answer.text.startswith("The CPU limit")


def test_streaming_and_plain_callers_share_the_loop(llm_settings) -> None:
    report = cpu_limit_report()
    assistant = wiring.assistant(llm_settings(llm_enabled=False))
    items = list(assistant.stream_answer("why?", "T3", [], report))
    assert isinstance(items[-1], Answer) and items[-1].fallback


def test_streaming_uses_the_same_loop_with_tools(llm_settings) -> None:
    report = cpu_limit_report()
    with openai_cassette("stream_tool_roundtrip", rerecordable=False) as rec:
        items = list(
            wiring.assistant(llm_settings(), toolsets={}).stream_answer(
                "how bad is throttling?", "T4", [], report
            )
        )
    deltas, answer = [i for i in items if isinstance(i, str)], items[-1]
    assert isinstance(answer, Answer) and not answer.fallback
    assert "".join(deltas).startswith("Throttling is at 62% of CFS periods [E2]")
    assert all(b.get("stream") is True for b in rec.bodies) and len(rec.bodies) == 2
    assert answer.tool_calls == [{"name": "investigation_evidence", "args": {"ids": ["E2"]}}]
    tool_msg = next(m for m in rec.bodies[1]["messages"] if m["role"] == "tool")
    assert "CPU throttling ratio 0.62" in tool_msg["content"]
    # Usage arrives in the final stream chunk; the checked text drops the unknown [E7].
    assert answer.usage.prompt_tokens == 1480 + 1620 and answer.usage.calls == 2
    assert answer.citations == ["E2"] and answer.unknown_citations == 1 and "[E7]" not in answer.text


def test_answer_budget_with_every_toolset_offered(llm_settings) -> None:
    """All shipped tools offered (Prometheus and a repository configured): a typical thread answer
    stays under 8000 prompt tokens in at most 3 calls, measured on what was sent."""
    from bot.adapters.prometheus import PrometheusMetrics

    repo = Path(__file__).resolve().parent.parent.parent
    ctx = ToolContext(at=AT, metrics=PrometheusMetrics("http://127.0.0.1:9"), repo_dir=repo)
    with openai_cassette("tool_cap", rerecordable=False) as rec:
        answer = wiring.assistant(llm_settings(llm_max_tool_calls=2), context=ctx).answer(
            "what is the bottleneck?", "T5", [], cpu_limit_report()
        )
    assert len(rec.bodies[0]["tools"]) >= 10
    sent = 0
    for body in rec.bodies:
        texts = [
            str(m.get("content") or "") + json.dumps(m.get("tool_calls") or "") for m in body["messages"]
        ]
        sent += sum(count_tokens(t) + 4 for t in texts) + count_tokens(json.dumps(body.get("tools") or ""))
    assert answer.usage.calls <= 3 and sent <= 8000


def test_model_call_cap_forces_the_last_call_to_answer(llm_settings) -> None:
    with openai_cassette("call_cap", rerecordable=False) as rec:
        answer = wiring.assistant(llm_settings(llm_max_calls=3, llm_max_tool_calls=4), toolsets={}).answer(
            "why?", "T6", [], cpu_limit_report()
        )
    assert answer.usage.calls == 3 and answer.usage.tool_calls == 2
    assert [b.get("tool_choice") for b in rec.bodies] == [None, None, "none"]
    assert answer.citations == ["E3", "E1"] and not answer.fallback
