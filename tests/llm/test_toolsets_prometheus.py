"""The shipped declarative toolsets against a real Prometheus loaded by promtool: the queries
are valid PromQL, match the intended series exactly, and reach the model compressed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.prometheus import PrometheusMetrics
from bot.assistant.tools import ToolContext, build_tools, run_tool
from bot.assistant.toolsets import load_toolsets
from bot.ports.tokens import count_tokens
from testkit.promserver import running_prometheus

pytestmark = pytest.mark.prometheus

END = 1_790_000_000
START = END - 7200
ONSET = END - 1800
POD = "checkout-7d9f8b6c5-x2x9z"


def _openmetrics(path: Path) -> Path:
    lines = [
        "# TYPE container_cpu_usage_seconds counter",
        "# TYPE container_cpu_cfs_periods counter",
        "# TYPE container_cpu_cfs_throttled_periods counter",
        "# TYPE http_requests counter",
        "# TYPE kube_pod_container_resource_limits gauge",
        "# TYPE kube_deployment_spec_replicas gauge",
        "# TYPE kube_deployment_status_replicas_available gauge",
    ]
    cpu = periods = throttled = 0.0
    reqs = {"checkout": 0.0, 'we"ird': 0.0}
    for ts in range(START, END + 1, 30):
        after = ts >= ONSET
        cpu += 30 * (1.95 if after else 0.8)
        periods += 30 * 10
        throttled += 30 * (6.0 if after else 0.2)
        pod = f'namespace="shop",pod="{POD}",container="app"'
        lines += [
            f"container_cpu_usage_seconds_total{{{pod}}} {cpu} {ts}",
            f"container_cpu_cfs_periods_total{{{pod}}} {periods} {ts}",
            f"container_cpu_cfs_throttled_periods_total{{{pod}}} {throttled} {ts}",
            f'kube_pod_container_resource_limits{{{pod},resource="cpu",unit="core"}} 2 {ts}',
            f'kube_deployment_spec_replicas{{namespace="shop",deployment="checkout"}} 3 {ts}',
            f'kube_deployment_status_replicas_available{{namespace="shop",deployment="checkout"}} 3 {ts}',
        ]
        for svc, base in (("checkout", 100.0), ('we"ird', 7.0)):
            reqs[svc] += 30 * (base * 2.3 if after and svc == "checkout" else base)
            quoted = svc.replace('"', '\\"')
            lines.append(
                f'http_requests_total{{namespace="shop",service="{quoted}",code="200"}} {reqs[svc]} {ts}'
            )
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def prom_url(prometheus_binaries: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_prometheus(_openmetrics(tmp_path_factory.mktemp("om") / "k8s.om")) as url:
        yield url


@pytest.fixture(scope="module")
def tools(prom_url: str) -> dict:
    ctx = ToolContext(at=datetime.fromtimestamp(END, UTC), metrics=PrometheusMetrics(prom_url))
    return build_tools(ctx, load_toolsets(), allow_proposals=False)


def test_cpu_usage_vs_limit_is_summarised_with_onset(tools: dict) -> None:
    out = run_tool(tools["k8s_cpu_usage_vs_limit"], {"namespace": "shop", "workload": "checkout"}, 300)
    assert f"pod={POD}" in out and "last=0.97" in out and "onset=" in out
    assert count_tokens(out) <= 300


def test_throttling_replicas_and_request_rate(tools: dict) -> None:
    throttling = run_tool(
        tools["k8s_cpu_throttling_ratio"], {"namespace": "shop", "workload": "checkout"}, 300
    )
    assert "last=0.6" in throttling
    replicas = run_tool(tools["k8s_replicas"], {"namespace": "shop", "deployment": "checkout"}, 300)
    assert "kube_deployment_spec_replicas" in replicas and "last=3" in replicas
    rate = run_tool(tools["red_request_rate"], {"namespace": "shop", "service": "checkout"}, 300)
    assert "last=230" in rate and "trend=rising" in rate


def test_label_values_match_exactly_and_cannot_inject(tools: dict) -> None:
    weird = run_tool(tools["red_request_rate"], {"namespace": "shop", "service": "we.ird"}, 300)
    assert "no data" in weird  # a literal, not a regex: "." matches only "."
    hostile = run_tool(tools["red_request_rate"], {"namespace": "shop", "service": 'x"} or vector(1)'}, 300)
    assert hostile.startswith("error:") and "does not match" in hostile
