"""Calls and prompt tokens per explanation and per thread answer, over sample reports.

Replays the OpenAI cassettes in tests/cassettes/openai (no network, no key) and counts, with the
same offline tokenizer the budgets use, what the client really sent: system prompt, report
context, tool schemas and tool results. The cassettes' usage figures are canned; the counts here
are measured on the requests. Run: ``python bench/bench_llm_tokens.py [--json]``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import wiring  # noqa: E402
from bot.adapters.prometheus import PrometheusMetrics  # noqa: E402
from bot.assistant.prompts import render_prompt  # noqa: E402
from bot.assistant.service import Answer, collect_answer  # noqa: E402
from bot.assistant.tools import ToolContext  # noqa: E402
from bot.domain.report import CauseKind, Evidence, InvestigationReport, RootCause  # noqa: E402
from bot.ports.tokens import count_tokens, encoding_name  # noqa: E402
from bot.settings import Settings  # noqa: E402
from testkit.llm_samples import AT, SAMPLE_REPORTS  # noqa: E402
from testkit.openai_cassettes import Recording, openai_cassette  # noqa: E402


def large_report() -> InvestigationReport:
    """A noisy report (8 causes, 48 evidence items) to show the context budget holds."""
    causes = [
        RootCause(
            kind=list(CauseKind)[i % len(CauseKind)],
            service=f"svc-{i}",
            namespace="shop",
            confidence=0.9 - i * 0.1,
            evidence=[
                Evidence(
                    id=f"E{i * 6 + j + 1}",
                    source="prometheus",
                    observation=f"svc-{i} signal {j}: p99 {100 + j * 37} ms vs baseline 80 ms since 10:0{j}",
                    query="histogram_quantile(0.99, sum by (le) (rate("
                    f'http_request_duration_seconds_bucket{{service="svc-{i}"}}[5m])))',
                )
                for j in range(6)
            ],
        )
        for i in range(8)
    ]
    return InvestigationReport(
        alert_name="ManyThingsWrong",
        service="svc-0",
        namespace="shop",
        at=AT,
        summary="several services degraded at once",
        root_causes=causes,
    )


def _sent(rec: Recording) -> list[int]:
    """Prompt tokens of each request: message texts, tool calls and tool schemas."""
    out = []
    for body in rec.bodies:
        texts = [
            str(m.get("content") or "") + json.dumps(m.get("tool_calls") or "") for m in body["messages"]
        ]
        out.append(
            sum(count_tokens(t) + 4 for t in texts) + 3 + count_tokens(json.dumps(body.get("tools") or ""))
        )
    return out


def _measure(name: str, cassette: str, run: Callable[[], Answer]) -> dict[str, Any]:
    with openai_cassette(cassette, rerecordable=False) as rec:
        answer = run()
    per_call = _sent(rec)
    return {
        "case": name,
        "calls": len(per_call),
        "prompt_tokens": sum(per_call),
        "per_call": per_call,
        "tools_offered": len(rec.bodies[0].get("tools") or []) if rec.bodies else 0,
        "tool_calls": answer.usage.tool_calls,
        "fallback": answer.fallback,
    }


def main() -> int:
    settings = Settings(openai_api_key="sk-bench-not-a-real-key-00000000000000", llm_max_retries=0)
    rows = []
    reports = {**{k: f() for k, f in SAMPLE_REPORTS.items()}, "large": large_report()}
    for name, report in reports.items():
        rows.append(
            _measure(
                f"explain/{name}", "explain_plain", lambda r=report: wiring.assistant(settings).explain(r)
            )
        )
    cpu = reports["cpu_limit"]
    ask = wiring.assistant(settings, toolsets={})
    rows.append(
        _measure(
            "answer+tool/cpu_limit",
            "stream_tool_roundtrip",
            lambda: collect_answer(ask.stream_answer("how bad is throttling?", "b", [], cpu)),
        )
    )
    rows.append(
        _measure(
            "answer+capped tools/cpu_limit",
            "tool_cap",
            lambda: wiring.assistant(
                settings.model_copy(update={"llm_max_tool_calls": 2}), toolsets={}
            ).answer("what is the bottleneck?", "b", [], cpu),
        )
    )
    # Every source configured: all shipped toolsets are offered (the endpoints are never called
    # here: the cassette's model asks only for the investigation's evidence).
    full = ToolContext(at=AT, metrics=PrometheusMetrics("http://127.0.0.1:9"), repo_dir=ROOT)
    rows.append(
        _measure(
            "answer+all tools/cpu_limit",
            "tool_cap",
            lambda: wiring.assistant(
                settings.model_copy(update={"llm_max_tool_calls": 2}), context=full
            ).answer("what is the bottleneck?", "b", [], cpu),
        )
    )
    system_tokens = count_tokens(render_prompt("system"))
    if "--json" in sys.argv:
        print(
            json.dumps(
                {"encoding": encoding_name(), "system_prompt_tokens": system_tokens, "rows": rows}, indent=2
            )
        )
        return 0
    print(f"tokenizer: {encoding_name()}; system prompt: {system_tokens} tokens")
    print(f"{'case':34} {'calls':>5} {'prompt tokens':>13} {'per call':>18} {'tools':>5}")
    for r in rows:
        per = "+".join(str(n) for n in r["per_call"])
        print(f"{r['case']:34} {r['calls']:>5} {r['prompt_tokens']:>13} {per:>18} {r['tools_offered']:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
