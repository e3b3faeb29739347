"""Capacity forecasts against a real Prometheus: a growing daily peak gets a scale proposal opened
as a branch on a real git remote before the predicted breach; flat load gets none, and a reason."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from bot import wiring
from bot.adapters.prometheus import PrometheusMetrics
from bot.adapters.slack.replies import forecast_text
from bot.cli.main import app
from bot.domain.approval import Decision
from bot.domain.errors import SourceUnavailable
from bot.domain.proposal import Action, Proposal, ProposalState
from bot.foresight.capacity import CapacityFinding
from bot.services.capacity import CapacityPlanner, forecast, run_capacity_job, submit_findings
from bot.settings import Settings
from testkit.gitops import make_remote
from testkit.promserver import running_prometheus
from tests.capacity.synth import DAY, START, Cluster, Workload, daily, deployment

pytestmark = pytest.mark.prometheus

AT = START + 4 * DAY  # midnight; the next daily peak is at 14:00


def growing(t: float) -> float:
    """Traffic growing 12% a day: daily peaks of 1.4 to 1.95 cores over four days, 2.2 tomorrow,
    against a capacity of 3 replicas x 1 core x 0.7 = 2.1."""
    return (0.3 + 1.0 * daily(t)) * 1.12 ** ((t - START) / DAY)


def flat(t: float) -> float:
    return 0.6


FILES = {
    "apps/checkout/deployment.yaml": deployment("checkout", 3),
    "apps/catalog/deployment.yaml": deployment("catalog", 2),
    # the same growth, but an autoscaler may take search to 6 replicas: 6 x 1 x 0.7 = 4.2 cores
    "apps/search/deployment.yaml": deployment("search", 3),
    "apps/search/hpa.yaml": """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: search
  namespace: shop
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: search}
  minReplicas: 2
  maxReplicas: 6
""",
    # growing in another namespace, with an autoscaler capped at 3: 3 x 1 x 0.7 = 2.1 cores
    "apps/edge/deployment.yaml": deployment("edge", 2).replace("namespace: shop", "namespace: gateway"),
    "apps/edge/hpa.yaml": """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: edge
  namespace: gateway
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: edge}
  minReplicas: 2
  maxReplicas: 3  # agreed with the platform team
""",
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, prometheus_binaries: None) -> object:
    cluster = Cluster(
        START,
        AT,
        [
            Workload("checkout", growing, resources=False),
            Workload("catalog", flat, pods=2, resources=False),
            Workload("search", growing, resources=False),
            Workload("edge", growing, namespace="gateway", resources=False),
        ],
    )
    om = cluster.build().write(tmp_path_factory.mktemp("om") / "metrics.om")
    with running_prometheus(om) as url:
        yield url


def test_growing_peak_gets_one_scale_proposal_opened_before_the_breach(
    prometheus: str, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path / "gitops", FILES)
    settings = Settings(
        prometheus_url=prometheus,
        repo=str(remote.bare),
        data_dir=str(tmp_path / "data"),
        database_url=f"sqlite:///{tmp_path / 'tugboat.db'}",
        policy={"approvers": ["U_ALICE"]},
    )
    at = datetime.fromtimestamp(AT, UTC)
    host = wiring.change_host(settings)
    workflow = wiring.workflow(settings, wiring.store(settings), host, repo_path=remote.work)
    run = run_capacity_job(
        settings,
        at,
        namespace="shop",
        workspace=lambda: wiring.workspace(remote.work),
        metrics=wiring.metrics_source(settings),
        workflow=workflow,
    )

    by_name = {f.workload: f for f in run.findings}
    assert set(by_name) == {"checkout", "catalog", "search"}
    search = by_name["search"]  # the autoscaler's maxReplicas is the capacity, not spec.replicas
    assert not search.short and search.capacity is not None and search.capacity.hpa == "search"
    assert search.capacity.replicas == 6 and search.reason.startswith("peak forecast 5")
    short = by_name["checkout"]
    assert short.short and short.breach_at is not None
    assert at < short.breach_at < datetime.fromtimestamp(AT + DAY, UTC)
    assert short.replicas is not None and 4 <= short.replicas <= 6
    assert "and CPU usage" in " ".join(short.notes)  # the request rate was discovered and used
    assert [p.service for p in run.opened] == ["checkout"]
    proposal = run.opened[0]
    assert proposal.action is Action.SCALE and proposal.state is ProposalState.OPEN
    assert proposal.title.startswith(f"Capacity: scale checkout to {short.replicas} replicas before")
    assert f"{short.breach_at:%Y-%m-%d %H:%M} UTC" in proposal.title
    # the branch exists on the remote, main is untouched, and the diff is the one replicas line
    assert remote.head(proposal.branch or "") == proposal.head_sha
    assert "replicas: 3  #" in remote.show("apps/checkout/deployment.yaml")
    changed = remote.show("apps/checkout/deployment.yaml", proposal.branch or "")
    assert changed == FILES["apps/checkout/deployment.yaml"].replace(
        "replicas: 3  #", f"replicas: {short.replicas}  #"
    )
    minus = [
        line for line in proposal.diff.splitlines() if line.startswith("-") and not line.startswith("---")
    ]
    assert minus == ["-  replicas: 3  # owned by the checkout team"]
    graph = short.graph
    assert graph is not None and graph.thresholds[0].value == pytest.approx(2.1)
    assert {s.labels["__name__"] for s in graph.series} >= {"CPU used", "forecast upper bound"}

    # a scheduled re-run finds the open proposal and does not open another
    wf = wiring.workflow(settings, wiring.store(settings), wiring.change_host(settings))
    again = submit_findings(run.findings, wf)
    assert not again.opened and again.skipped == [
        f"checkout: proposal {proposal.id} is already open for approval"
    ]

    # a person approves (as the Slack button does): it merges, and GitOps has the new count
    outcome = wf.decide(proposal.id, "U_ALICE", Decision.APPROVE)
    assert outcome.merged, outcome.message
    assert f"replicas: {short.replicas}  #" in remote.show("apps/checkout/deployment.yaml")


def test_a_drafted_proposal_is_skipped_in_plain_words(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "data"), database_url=f"sqlite:///{tmp_path / 'tugboat.db'}")
    store = wiring.store(settings)
    drafted = Proposal(action=Action.SCALE, service="checkout", namespace="shop")
    store.save_proposal(drafted)
    at = datetime.fromtimestamp(AT, UTC)
    finding = CapacityFinding(
        "checkout", "shop", at, True, "short", proposal=drafted.model_copy(update={"id": "new"})
    )
    run = submit_findings([finding], SimpleNamespace(store=store))  # only its store is read
    assert run.skipped == [f"checkout: proposal {drafted.id} is already drafted but not opened yet"]
    assert "draft" not in run.skipped[0].split()


def test_flat_load_is_left_alone_with_the_reason(prometheus: str, tmp_path: Path) -> None:
    repo = make_remote(tmp_path / "gitops", FILES).work
    findings = CapacityPlanner(PrometheusMetrics(prometheus), wiring.workspace(repo), Settings()).check(
        datetime.fromtimestamp(AT, UTC), only={"catalog"}
    )
    [flat_finding] = findings
    assert not flat_finding.short and flat_finding.proposal is None
    assert flat_finding.reason.startswith("peak forecast ")
    share = int(flat_finding.reason.split()[2].rstrip("%"))
    assert 35 <= share <= 55  # 0.6 cores of 2 x 1 x 0.7 = 1.4
    found = forecast(
        "catalog",
        Settings(prometheus_url=prometheus),
        at=datetime.fromtimestamp(AT, UTC),
        metrics=PrometheusMetrics(prometheus),
        workspace=lambda: wiring.workspace(repo),
    )
    assert [f.workload for f in found] == ["catalog"] and not found[0].short
    text = forecast_text(found)
    assert text.startswith("*catalog (shop)*: enough capacity: peak forecast")


def test_an_autoscaler_running_short_gets_its_max_replicas_raised(prometheus: str, tmp_path: Path) -> None:
    repo = make_remote(tmp_path / "gitops", FILES).work
    [edge] = CapacityPlanner(PrometheusMetrics(prometheus), wiring.workspace(repo), Settings()).check(
        datetime.fromtimestamp(AT, UTC), namespace="gateway"
    )
    assert edge.short and edge.capacity is not None and edge.capacity.hpa == "edge" and edge.replicas == 4
    assert edge.proposal is not None and edge.proposal.title.startswith(
        "Capacity: raise edge maxReplicas to 4 "
    )
    [change] = edge.proposal.changes
    assert (change.file, change.field, change.from_, change.to) == (
        "apps/edge/hpa.yaml",
        "hpa.maxReplicas",
        3,
        4,
    )
    assert "+  maxReplicas: 4  # agreed with the platform team" in edge.proposal.diff.splitlines()


def test_cli_json_and_bad_input(prometheus: str, tmp_path: Path) -> None:
    repo = make_remote(tmp_path / "gitops", FILES).work
    args = ["capacity", "--prometheus-url", prometheus, "--repo", str(repo)]
    out = CliRunner().invoke(app, [*args, "--at", str(AT), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert {f["workload"]: f["short"] for f in doc["findings"]} == {
        "catalog": False,
        "checkout": True,
        "search": False,
        "edge": True,
    }
    # errors meant for people: one line on stderr, exit 2, from the installed entry point
    cmd = [sys.executable, "-m", "bot", *args]
    bad = subprocess.run([*cmd, "--horizon", "tomorrow"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--horizon" in bad.stderr
    down = CliRunner().invoke(
        app, ["capacity", "--prometheus-url", "http://127.0.0.1:9", "--repo", str(repo)]
    )
    assert isinstance(down.exception, SourceUnavailable)
    assert "cannot connect to Prometheus at http://127.0.0.1:9" in str(down.exception)
