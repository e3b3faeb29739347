"""Investigations end to end against a real Prometheus backfilled with synthetic OpenMetrics."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.git.history import LocalGitHistory
from bot.adapters.prometheus import PrometheusMetrics
from bot.domain.alert import parse_alert_group
from bot.domain.proposal import Action
from bot.domain.report import CauseKind
from bot.services.investigate import Investigator
from bot.settings import Settings
from testkit.promserver import running_prometheus
from tests.analysis.synth import Cluster

pytestmark = pytest.mark.prometheus

START = 1795000000
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: registry.example.com/shop/{name}:{tag}
          resources:
            limits:
              cpu: "1"
              memory: 256Mi
"""


def _git(repo: Path, *args: str, when: int | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    if when is not None:
        stamp = f"@{when} +0000"
        env |= {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
    return out.stdout.strip()


def _repo(tmp: Path, cluster: Cluster, bad_release: bool) -> tuple[Path, str | None]:
    repo = tmp / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for name in ("front", "back"):
        (repo / "apps" / name).mkdir(parents=True)
        (repo / "apps" / name / "deployment.yaml").write_text(DEPLOYMENT.format(name=name, tag="1.0.0"))
    (repo / "README.md").write_text("shop\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "initial layout", when=cluster.start - 86400)
    (repo / "README.md").write_text("shop\non-call: #shop\n")
    _git(repo, "commit", "-q", "-am", "docs: on-call pointer", when=cluster.onset - 1200)
    if not bad_release:
        return repo, None
    path = repo / "apps" / "back" / "deployment.yaml"
    path.write_text(DEPLOYMENT.format(name="back", tag="1.1.0"))
    _git(repo, "commit", "-q", "-am", "back: release 1.1.0", when=cluster.onset - 300)
    return repo, _git(repo, "rev-parse", "HEAD")


def _alert(labels: dict[str, str], expr: str, starts: int) -> object:
    from urllib.parse import quote

    stamp = datetime.fromtimestamp(starts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {},
        "startsAt": stamp,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"http://prom/graph?g0.expr={quote(expr)}",
    }
    return parse_alert_group(
        {"version": "4", "status": "firing", "groupKey": "{}", "alerts": [alert], "commonLabels": labels}
    )


def _investigator(metrics: PrometheusMetrics, repo: Path) -> Investigator:
    """The investigator the root builds, on these metrics."""
    return Investigator(
        metrics,
        None,
        LocalGitHistory(repo),
        repo,
        Settings(),
        workspace=lambda: wiring.workspace(repo),
        describe=wiring.changes_classifier(),
    )


def _investigate(tmp_path: Path, cluster: Cluster, bad_release: bool, labels: dict[str, str], expr: str):
    om = cluster.build().write(tmp_path / "metrics.om")
    repo, sha = _repo(tmp_path, cluster, bad_release)
    group = _alert(labels, expr, cluster.onset + 300)
    with running_prometheus(om) as url:
        metrics = PrometheusMetrics(url)
        inv = _investigator(metrics, repo)
        result = inv.investigate(group, datetime.fromtimestamp(cluster.at, UTC))  # type: ignore[arg-type]
        queries = metrics.queries_run
    return result, sha, queries


@pytest.mark.parametrize("convention", ["classic", "otel"])
def test_downstream_bad_release_is_traced_to_the_callee_and_reverted(
    tmp_path: Path, prometheus_binaries: None, convention: str
) -> None:
    cluster = Cluster(start=START, fault="errors", convention=convention)
    # The alert rule's own expression, as Prometheus puts it in the generator URL.
    expr = (
        'sum by (service) (rate(http_requests_total{code=~"5.."}[5m]))'
        " / sum by (service) (rate(http_requests_total[5m])) > 0.05"
    )
    result, sha, queries = _investigate(
        tmp_path, cluster, True, {"alertname": "HighErrorRate", "namespace": "shop", "app": "front"}, expr
    )
    report = result.report
    top = report.root_causes[0]
    assert (top.kind, top.service) == (CauseKind.BAD_DEPLOY, "back")
    assert top.commit == sha
    assert report.proposal is not None and report.proposal.action is Action.REVERT
    assert report.proposal.commit == sha and "1.1.0" in report.proposal.diff
    sources = {e.source for e in top.evidence}
    assert {"git", "prometheus"} <= sources
    assert any("error ratio" in e.observation and "%" in e.observation for e in top.evidence)
    assert all(s.ok for s in report.sources if s.name in ("prometheus", "git"))
    assert queries < 40  # bounded: one query per signal family, not per workload


def test_oom_kills_size_a_memory_limit_with_headroom(tmp_path: Path, prometheus_binaries: None) -> None:
    cluster = Cluster(start=START, fault="oom")
    expr = (
        "increase(kube_pod_container_status_restarts_total[10m]) > 0 and on (namespace, pod, container)"
        ' kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1'
    )
    labels = {
        "alertname": "ContainerOOMKilled",
        "namespace": "shop",
        "pod": "back-5f6d7c8b9x-klmno",
        "container": "back",
    }
    result, _, _ = _investigate(tmp_path, cluster, False, labels, expr)
    report = result.report
    top = report.root_causes[0]
    assert (top.kind, top.service) == (CauseKind.MEMORY_LIMIT, "back")
    assert report.service == "back"  # resolved from the pod name through kube_pod_owner
    prop = report.proposal
    assert prop is not None and prop.action is Action.SET_MEMORY_LIMIT
    change = prop.changes[0]
    assert change.file == "apps/back/deployment.yaml"
    assert change.from_ == 256 * 1024**2 and 2 * 256 * 1024**2 <= change.to <= 4 * 256 * 1024**2
    added = [ln for ln in prop.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert added == ["+              memory: 512Mi"]  # one line changed, in place
    assert result.graphs and result.graphs[0].unit == "bytes"


def test_unreachable_prometheus_degrades_the_report(tmp_path: Path) -> None:
    cluster = Cluster(start=START)
    repo, _ = _repo(tmp_path, cluster, False)
    group = _alert(
        {"alertname": "HighErrorRate", "namespace": "shop", "app": "front"}, "up == 0", cluster.onset
    )
    metrics = PrometheusMetrics("http://127.0.0.1:9", timeout_s=1)
    inv = _investigator(metrics, repo)
    report = inv.run(group, datetime.fromtimestamp(cluster.at, UTC))  # type: ignore[arg-type]
    status = {s.name: s for s in report.sources}
    assert not status["prometheus"].ok and "cannot connect" in status["prometheus"].detail
    assert status["git"].ok
    assert report.summary and any("prometheus" in n for n in report.notes)
