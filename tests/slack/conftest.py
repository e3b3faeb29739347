"""A running Tugboat (real Bolt app, real uvicorn, real SQLite, real git remote) wired to a mock
Slack Web API on loopback. Requests are signed like Slack signs them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from bot.adapters.slack import blocks
from bot.domain.alert import AlertGroup, now_utc
from bot.domain.graph import GraphSpec
from bot.domain.report import CauseKind, Evidence, InvestigationReport, RootCause
from bot.domain.series import Series
from bot.ports.store import IncidentRecord
from bot.services.investigate import Investigation
from bot.settings import ApprovalPolicy, Settings
from bot.wiring.serve import Runtime, build_runtime
from testkit import slack_requests
from testkit.asgi_server import serving
from testkit.gitops import GitOpsRemote, make_remote, scale_proposal
from testkit.slack_api import SlackApi, running_slack_api

CHANNEL = "CINC"
APPROVER = "UAPPROVER"


def scale_investigation(repo_dir: Path) -> Callable[[AlertGroup, datetime], Investigation]:
    """The investigate port for these tests: a fixed finding whose fix is planned for real on the
    repository (ManifestRepo.plan), so the proposal's diff applies and merges on the remote."""

    def investigate(group: AlertGroup, at: datetime) -> Investigation:
        proposal = scale_proposal(repo_dir, title="traffic surge: scale checkout to 6")
        report = InvestigationReport(
            alert_name=group.primary.name,
            service="checkout",
            namespace="shop",
            at=at,
            summary="checkout is saturated by a traffic surge",
            root_causes=[
                RootCause(
                    kind=CauseKind.TRAFFIC_SURGE,
                    service="checkout",
                    namespace="shop",
                    confidence=0.8,
                    evidence=[Evidence(id="E1", source="prometheus", observation="requests 120/s -> 480/s")],
                )
            ],
            proposal=proposal,
        )
        t = np.arange(at.timestamp() - 600, at.timestamp(), 15.0)
        graph = GraphSpec(
            name="checkout-rps",
            title="checkout requests",
            unit="req/s",
            series=[Series({"service": "checkout"}, t, np.linspace(120, 480, len(t)))],
        )
        return Investigation(report, [graph])

    return investigate


@dataclass
class Harness:
    api: SlackApi
    runtime: Runtime
    url: str
    remote: GitOpsRemote
    settings: Settings

    def post(self, path: str, body: bytes, headers: dict[str, str], sign: bool = True) -> requests.Response:
        if sign:
            headers = {**headers, **slack_requests.sign(body)}
        return requests.post(self.url + path, data=body, headers=headers, timeout=10)

    def slack(self, made: tuple[bytes, dict[str, str]], **kwargs: Any) -> requests.Response:
        return self.post("/slack/events", *made, **kwargs)

    def command(self, text: str, **fields: str) -> requests.Response:
        """``/tugboat text`` whose ``response_url`` is the mock's."""
        return self.slack(slack_requests.command(text, response_url=self.api.response_url, **fields))

    def click(
        self,
        action_id: str,
        proposal_id: str,
        *,
        user: str,
        ts: str,
        thread: str | None = None,
        value: str | None = None,
    ) -> requests.Response:
        """A button of the proposal message ``ts`` in ``CHANNEL``, clicked by ``user``. The
        button's value is the one the message shows (Approve names its head), unless given."""
        value = value or self.button_value(action_id, proposal_id)
        return self.slack(
            slack_requests.button(
                action_id, value, user=user, channel=CHANNEL, message_ts=ts, thread_ts=thread
            )
        )

    def button_value(self, action_id: str, proposal_id: str) -> str:
        """The value of the newest ``action_id`` button shown for ``proposal_id``."""
        shown = [c for c in list(self.api.calls) if c.method in ("chat.postMessage", "chat.update")]
        for call in reversed(shown):
            for block in call.args.get("blocks") or []:
                for element in block.get("elements") or [] if block.get("type") == "actions" else []:
                    target = blocks.button_target(str(element.get("value", "")))[0]
                    if element.get("action_id") == action_id and target == proposal_id:
                        return str(element["value"])
        return proposal_id

    def proposal_message(self) -> tuple[str, str, str]:
        """(proposal id, message ts, thread ts) of the posted proposal with buttons."""
        for call in self.api.wait_for("chat.postMessage", 3):
            text = json.dumps(call.args.get("blocks"))
            if blocks.ACTION_APPROVE in text or blocks.ACTION_DRAFT in text:
                actions = [b for b in call.args["blocks"] if b.get("type") == "actions"]
                value = blocks.button_target(actions[-1]["elements"][0]["value"])[0]
                thread = call.args["thread_ts"]
                ts = next(m["ts"] for m in self.api.replies[thread] if m["text"] == call.args["text"])
                return value, ts, thread
        raise AssertionError("no proposal message")

    def alert(self, payload: dict[str, Any], token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + "/alerts/alertmanager", json=payload, headers=headers, timeout=10)

    def settle(self, seconds: float = 0.5) -> None:
        time.sleep(seconds)

    def incident(self, key: str, timeout: float = 20.0, **match: Any) -> IncidentRecord:
        """The stored incident once the delivery job has folded the group's alerts in (and its
        fields equal ``match``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.runtime.deps.store.get_incident(key)
            if found is not None and all(getattr(found, k) == v for k, v in match.items()):
                return found
            assert time.monotonic() < deadline, f"incident {key} {match} not stored in {timeout}s: {found}"
            time.sleep(0.05)


def make_settings(api: SlackApi, tmp: Path, repo: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": "xoxb-test",
        "slack_signing_secret": slack_requests.SECRET,
        "slack_api_url": api.base_url,
        "slack_channel": CHANNEL,
        "database_url": f"sqlite:///{tmp / 'tugboat.db'}",
        "repo": str(repo),
        "data_dir": str(tmp / "data"),
        "policy": ApprovalPolicy(approvers=[APPROVER]),
        "llm_enabled": False,
        "slack_update_interval_s": 0.3,
        "anomaly_cron": "",  # every 10 minutes: it would run at start, querying the test's Prometheus
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def harness_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Harness]]:
    monkeypatch.chdir(tmp_path)  # no tugboat.yaml from the developer's checkout
    stack: list[Any] = []

    def make(clock: Callable[[], datetime] = now_utc, **overrides: Any) -> Harness:
        api_cm = running_slack_api()
        api = api_cm.__enter__()
        stack.append(api_cm)
        remote = make_remote(tmp_path / f"git{len(stack)}")
        settings = make_settings(api, tmp_path, remote.work, **overrides)
        runtime = build_runtime(settings, investigate=scale_investigation(remote.work), clock=clock)
        server_cm = serving(runtime.http)
        url = server_cm.__enter__()
        stack.append(server_cm)
        return Harness(api, runtime, url, remote, settings)

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.fixture
def harness(harness_factory: Callable[..., Harness]) -> Harness:
    return harness_factory()


def alert_payload(
    group_key: str = '{}:{alertname="HighLatency"}',
    status: str = "firing",
    fingerprints: list[str] | None = None,
    team: str | None = None,
    starts_at: str = "2026-11-26T01:00:00Z",
    ends_at: str = "0001-01-01T00:00:00Z",
) -> dict[str, Any]:
    labels = {"alertname": "HighLatency", "namespace": "shop", "service": "checkout", "severity": "page"}
    if team:
        labels["team"] = team
    return {
        "version": "4",
        "groupKey": group_key,
        "status": status,
        "receiver": "tugboat",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "p99 latency above 1s"},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": {**labels, "pod": f"checkout-{fp}"},
                "annotations": {"summary": "p99 latency above 1s"},
                "startsAt": starts_at,
                "endsAt": ends_at,
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
                "fingerprint": fp,
            }
            for fp in (fingerprints or ["a1"])
        ],
    }
