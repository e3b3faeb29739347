"""/metrics names what operators watch: alerts, investigations, model cost, proposals, merges, errors."""

from __future__ import annotations

from bot.assistant.service import _count
from bot.domain.report import LLMUsage
from bot.observability import metrics


def test_every_operational_metric_is_exposed() -> None:
    text = metrics.exposition().decode()
    for name in (
        "tugboat_alerts_received_total",
        "tugboat_investigations_total",
        "tugboat_investigation_duration_seconds",
        "tugboat_model_calls_total",
        "tugboat_model_tokens_total",
        "tugboat_model_cost_usd_total",
        "tugboat_proposals",
        "tugboat_merges_total",
        "tugboat_slack_errors_total",
        "tugboat_github_errors_total",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


def test_model_usage_is_counted() -> None:
    def sample(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    before = (
        sample("tugboat_model_calls_total", outcome="ok"),
        sample("tugboat_model_tokens_total", kind="prompt"),
    )
    _count(LLMUsage(model="m", calls=2, prompt_tokens=700, completion_tokens=90, cost_usd=0.002))
    assert sample("tugboat_model_calls_total", outcome="ok") == before[0] + 2
    assert sample("tugboat_model_tokens_total", kind="prompt") == before[1] + 700
    assert sample("tugboat_model_cost_usd_total") >= 0.002
