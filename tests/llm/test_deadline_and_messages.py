"""A model answer ends within its budget against real loopback endpoints, says what happened,
reports what it cost whether it succeeded or not, and its suggestions are checked against the
repository as well as the investigation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import wiring
from bot.assistant.tools import ToolContext
from bot.services.narrate import narrate
from bot.settings import Settings
from testkit.llm_samples import cpu_limit_report
from testkit.openai_server import FakeOpenAI, fake_openai
from testkit.promserver import free_port
from testkit.slow_servers import dripping_server, elapsed
from tests.git.repos import deployment

Make = Callable[..., Settings]


def _completion(request: bytes) -> bytes:
    body = json.loads(request.partition(b"\r\n\r\n")[2] or b"{}")
    return json.dumps(FakeOpenAI("The CPU limit is too low [E1].").completion(body)).encode()


def test_a_model_that_drips_one_byte_every_2s_ends_within_the_answer_budget(llm_settings: Make) -> None:
    with dripping_server(_completion, interval_s=2.0) as endpoint:
        settings = llm_settings(
            openai_base_url=endpoint.url + "/v1",
            llm_answer_budget_s=3.0,
            llm_timeout_s=30.0,  # every byte comes well inside the read timeout
            llm_max_retries=3,
        )
        report = cpu_limit_report()
        t0 = time.monotonic()
        narrated = narrate(report, wiring.assistant(settings))
        took = elapsed(t0)
    assert took < 3.0 + 2.5, took  # the budget, plus at most one gap between two bytes
    assert endpoint.connections == 1  # no retry could finish in time, so none was started
    assert narrated.summary == report.summary  # the deterministic summary stands
    note = (
        "LLM unavailable (timed out: the 3 s budget of the model answer ran out); "
        "showing the deterministic analysis"
    )
    assert note in narrated.notes
    assert "unreachable" not in " ".join(narrated.notes)
    assert narrated.llm is not None and narrated.llm.failed_calls == 1 and narrated.llm.calls == 0
    assert narrated.llm.model == "gpt-4.1-mini" and narrated.llm.latency_s > 0


def test_a_refused_endpoint_is_called_refused(llm_settings: Make) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    answer = wiring.assistant(llm_settings(openai_base_url=url, llm_max_retries=1)).explain(
        cpu_limit_report()
    )
    assert answer.fallback
    assert answer.notes == [
        f"LLM unavailable (cannot connect to {url}: connection refused after 2 attempts); "
        "showing the deterministic analysis"
    ]
    assert answer.usage.failed_calls == 2


def test_a_tool_asked_for_where_none_is_offered_is_not_called_a_tool_call_limit(llm_settings: Make) -> None:
    script: list = [[("query_prometheus", {"query": "up"})]]
    with fake_openai("unused", script=script) as model:
        answer = wiring.assistant(llm_settings(openai_base_url=model.url)).explain(cpu_limit_report())
    assert answer.fallback and len(model.requests) == 1
    assert answer.notes == [
        "LLM unavailable (no answer: the model asked for query_prometheus although no tools are "
        "offered for this answer); showing the deterministic analysis"
    ]
    assert "tool-call limit" not in answer.notes[0]
    assert answer.usage.calls == 1 and answer.usage.prompt_tokens == 812  # what it cost, reported


def test_usage_spent_before_a_failure_is_reported(llm_settings: Make) -> None:
    script: list = [[("investigation_evidence", {})], 500, 500]
    with fake_openai("unused", script=script) as model:
        settings = llm_settings(openai_base_url=model.url, llm_max_retries=1)
        answer = wiring.assistant(settings, toolsets={}).answer("why?", "T1", [], cpu_limit_report())
    assert len(model.requests) == 3  # the tool round, then the answer and its one retry
    assert answer.fallback
    assert answer.notes == ["LLM unavailable (HTTP 500 after 2 attempts); showing the deterministic analysis"]
    usage = answer.usage
    assert (usage.calls, usage.failed_calls, usage.prompt_tokens, usage.completion_tokens) == (1, 2, 812, 64)
    assert [c["name"] for c in answer.tool_calls] == ["investigation_evidence"]
    assert answer.audit_event(cpu_limit_report().at).data["llm"]["prompt_tokens"] == 812


def test_a_suggestion_for_a_workload_in_the_repository_is_checked_against_it(
    llm_settings: Make, tmp_path: Path
) -> None:
    repo = tmp_path / "gitops"
    (repo / "apps" / "cart").mkdir(parents=True)
    (repo / "apps" / "cart" / "deployment.yaml").write_text(
        deployment("cart", "registry.example.com/cart:1.0", replicas=2)
    )
    scale = {"action": "scale", "workload": "cart", "field": "replicas", "value": 4, "reason": "busy"}
    too_far = {**scale, "value": 40}
    ghost = {**scale, "workload": "ghost"}
    script: list = [[("propose_change", scale), ("propose_change", too_far), ("propose_change", ghost)]]
    context = ToolContext(at=cpu_limit_report().at, repo_dir=repo, workspace=lambda: wiring.workspace(repo))
    with fake_openai("Cart is busy too [E1].", script=script) as model:
        settings = llm_settings(openai_base_url=model.url)
        answer = wiring.assistant(settings, context=context, toolsets={}).answer(
            "cart?", "T1", [], cpu_limit_report()
        )
    assert answer.proposal_suggestion is not None and answer.proposal_suggestion.workload == "cart"
    assert answer.rejected_proposals == [
        "replicas 2 -> 40 exceeds the policy factor ×4",
        "workload 'ghost' is not in the investigation, nor among the workloads in the repository's manifests",
    ]


def test_the_model_is_reached_through_the_environments_proxy(
    llm_settings: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_openai("Through the proxy [E1].") as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        settings = llm_settings(openai_base_url="http://model.invalid/v1")
        answer = wiring.assistant(settings).explain(cpu_limit_report())
    assert not answer.fallback, answer.notes
    assert proxy.requests[0]["path"] == "http://model.invalid/v1/chat/completions"
