"""The anomaly tests' cluster in a real Prometheus (backfilled once per test process), a
recording Slack Web API per test, and settings for both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.adapters.slack.notifier import SlackNotifier
from bot.adapters.store import SqlStore
from bot.domain.audit import AuditKind
from bot.settings import Settings
from testkit.promserver import running_prometheus
from testkit.slack_api import SlackApi, running_slack_api
from tests.anomaly.cluster import write

CHANNEL = "C_INCIDENTS"


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory, prometheus_binaries: None) -> Iterator[str]:
    with running_prometheus(write(tmp_path_factory.mktemp("om") / "metrics.om")) as url:
        yield url


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with running_slack_api() as api:
        yield api


def settings_for(prometheus: str, slack: SlackApi, database_url: str, **extra: object) -> Settings:
    return Settings(
        prometheus_url=prometheus,
        database_url=database_url,
        slack_channel=CHANNEL,
        slack_api_url=slack.base_url,
        **extra,  # type: ignore[arg-type]
    )


def chat(slack: SlackApi, timeout: int = 30) -> SlackNotifier:
    return SlackNotifier(
        WebClient(token="xoxb-test", base_url=slack.base_url, timeout=timeout, retry_handlers=[])
    )


def audited(store: SqlStore, kind: AuditKind) -> list[dict[str, Any]]:
    return [e.data for e in store.audit_trail() if e.kind == kind.value]


def warnings_in(store: SqlStore) -> list[dict[str, Any]]:
    return audited(store, AuditKind.ANOMALY_WARNED)
