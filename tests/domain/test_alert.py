import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.alert import parse_alert_group, promql_from_generator_url
from bot.domain.errors import InvalidInput

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alerts"


def test_parses_a_firing_webhook_with_the_rule_expression() -> None:
    group = parse_alert_group((FIXTURES / "throttling.json").read_bytes())
    alert = group.primary
    assert group.status == "firing"
    assert group.group_key == '{}:{alertname="CPUThrottlingHigh", namespace="api"}'
    assert alert.labels["container"] == "ledger"
    assert alert.starts_at == datetime(2026, 11, 25, 7, 25, 30, tzinfo=UTC)
    assert alert.ends_at is None  # Alertmanager's 0001-01-01 means "still firing"
    assert alert.expr is not None
    assert alert.expr.startswith(
        'sum(increase(container_cpu_cfs_throttled_periods_total{container!=""}[5m]))'
    )
    assert alert.expr.endswith("> 0.25")


def test_parses_a_resolved_group_of_several_alerts() -> None:
    group = parse_alert_group((FIXTURES / "resolved_multi.json").read_text())
    assert group.status == "resolved"
    assert len(group.alerts) == 2
    assert group.started_at == datetime(2026, 11, 20, 10, 2, 11, 123000, tzinfo=UTC)
    assert group.alerts[1].expr is None
    assert group.alerts[0].expr == (
        'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff",'
        'job="kube-state-metrics"}[5m]) >= 1'
    )
    assert group.title == "KubePodCrashLooping in shop"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"version": "3", "alerts": []}), "unsupported Alertmanager webhook version"),
        (json.dumps({"version": "4", "status": "firing", "groupKey": "k", "alerts": []}), "alerts"),
        (
            json.dumps(
                {
                    "version": "4",
                    "status": "burning",
                    "groupKey": "k",
                    "alerts": [{"status": "firing", "labels": {}}],
                }
            ),
            "status",
        ),
        (
            json.dumps({"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": {}}]}),
            "groupKey",
        ),
        (
            json.dumps(
                {
                    "version": "4",
                    "status": "firing",
                    "groupKey": "k",
                    "alerts": [{"status": "firing", "labels": {"a": "b"}, "startsAt": "yesterday"}],
                }
            ),
            "startsAt",
        ),
    ],
)
def test_malformed_payloads_get_a_clear_error(body: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_alert_group(body)
    assert message in str(err.value)
    assert "Traceback" not in str(err.value)


def test_generator_url_without_expression() -> None:
    assert promql_from_generator_url("http://prom/graph?g0.tab=1") is None
    assert promql_from_generator_url("") is None
    assert (
        promql_from_generator_url("http://p/graph?g0.expr=up%7Bjob%3D%22a%22%7D+%3D%3D+0")
        == 'up{job="a"} == 0'
    )
