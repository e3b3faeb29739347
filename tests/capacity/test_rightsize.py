"""Rightsizing against a real Prometheus: OOM kills raise memory above the limit that was hit,
steady low CPU lowers the request with a one-line diff, an autoscaler on CPU holds the request,
and too little history is refused."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import wiring
from bot.adapters.prometheus import PrometheusMetrics
from bot.adapters.slack.replies import recommendation_text
from bot.cli.main import app
from bot.services.rightsize import Rightsizer, rightsize
from bot.settings import Settings
from testkit.gitops import make_remote
from testkit.promserver import running_prometheus
from tests.capacity.synth import DAY, START, Cluster, MiB, Workload

pytestmark = pytest.mark.prometheus

AT = START + 2 * DAY


def manifest(name: str, cpu_request: str, memory_request: str, memory_limit: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: {name}
          image: registry.example.com/shop/{name}:1.0.0
          resources:
            requests:
              cpu: {cpu_request}  # sized at launch
              memory: {memory_request}
            limits:
              cpu: "1"
              memory: {memory_limit}
"""


HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: shop
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 3
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
"""

FILES = {
    "apps/payments/deployment.yaml": manifest("payments", "100m", "256Mi", "256Mi"),
    "apps/api/deployment.yaml": manifest("api", "500m", "128Mi", "256Mi"),
    "apps/web/deployment.yaml": manifest("web", "500m", "128Mi", "256Mi"),
    "apps/web/hpa.yaml": HPA,
    "apps/fresh/deployment.yaml": manifest("fresh", "500m", "128Mi", "256Mi"),
}


def leaking(age_s: float) -> float:
    """150Mi at start, 15Mi more every hour: the 256Mi limit is hit about every 7 hours."""
    return 150 * MiB + 15 * MiB * age_s / 3600


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, prometheus_binaries: None) -> object:
    steady = 100 * MiB
    cluster = Cluster(
        START,
        AT,
        [
            Workload("payments", lambda t: 0.2, pods=2, memory=leaking, memory_limit=256 * MiB),
            Workload("api", lambda t: 0.3, memory=lambda a: steady, memory_limit=256 * MiB),
            Workload("web", lambda t: 0.3, memory=lambda a: steady, memory_limit=256 * MiB),
            Workload("fresh", lambda t: 0.3, memory=lambda a: steady, since=2 * DAY - 3 * 3600),
        ],
    )
    om = cluster.build().write(tmp_path_factory.mktemp("om") / "metrics.om")
    with running_prometheus(om) as url:
        yield url


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_remote(tmp_path / "gitops", FILES).work


def _recommend(url: str, repo: Path, workload: str):  # type: ignore[no-untyped-def]
    return Rightsizer(PrometheusMetrics(url), wiring.workspace(repo), Settings()).recommend(
        workload, datetime.fromtimestamp(AT, UTC)
    )


def test_oom_kills_raise_memory_above_the_limit_that_was_hit(prometheus: str, repo: Path) -> None:
    rec = _recommend(prometheus, repo, "payments")
    assert rec.refused is None
    changes = {c.field: c for c in rec.changes}
    assert set(changes) == {"memory", "memory_request"}  # CPU fits: 100m against ~100m used
    # the working set never shows more than 256Mi; the need is above it, not at the peak + 15%
    assert changes["memory"].current == 256 * MiB and changes["memory"].value >= 384 * MiB
    assert changes["memory_request"].value == changes["memory"].value
    assert "OOMKilled in 2 pod(s) at the 256Mi limit" in changes["memory"].reason
    assert rec.proposal is not None
    minus = sorted(
        line for line in rec.proposal.diff.splitlines() if line.startswith("-") and "---" not in line
    )
    plus = sorted(
        line for line in rec.proposal.diff.splitlines() if line.startswith("+") and "+++" not in line
    )
    assert minus == ["-              memory: 256Mi", "-              memory: 256Mi"]
    assert plus == ["+              memory: 384Mi", "+              memory: 384Mi"]
    assert (
        subprocess.run(
            ["git", "apply", "--check", "-"], cwd=repo, input=rec.proposal.diff, text=True
        ).returncode
        == 0
    )


def test_steady_low_cpu_lowers_the_request_with_a_one_line_diff(
    prometheus: str, repo: Path, tmp_path: Path, tmp_cwd: Path
) -> None:
    remote_dir = repo.parent / "remote.git"
    env = {"TUGBOAT_REPO": str(remote_dir), "TUGBOAT_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    args = [
        "rightsize",
        "api",
        "--prometheus-url",
        prometheus,
        "--repo",
        str(repo),
        "--at",
        str(AT),
        "--json",
    ]
    result = CliRunner(env=env).invoke(app, [*args, "--propose"])  # the change host's cache: ./.tugboat
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(c["field"], c["from"]) for c in doc["changes"]] == [("cpu_request", 0.5)]
    assert 0.1 <= doc["changes"][0]["to"] <= 0.11  # p95 of ~100m per pod
    diff = doc["proposal"]["diff"]
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        "-              cpu: 500m  # sized at launch",
        "+              cpu: 105m  # sized at launch",
    ]
    branch = doc["branch"]
    shown = subprocess.run(
        ["git", "show", f"{branch}:apps/api/deployment.yaml"], cwd=remote_dir, capture_output=True, text=True
    )
    assert "cpu: 105m  # sized at launch" in shown.stdout


def test_an_autoscaler_on_cpu_holds_the_request_and_says_why(prometheus: str, repo: Path) -> None:
    rec = _recommend(prometheus, repo, "web")
    assert "cpu_request" not in {c.field for c in rec.changes}
    [note] = [n for n in rec.notes if "scales on CPU" in n]
    assert "kept at 500m" in note and "want" in note


def test_too_little_history_is_refused(prometheus: str, repo: Path) -> None:
    rec = _recommend(prometheus, repo, "fresh")
    assert rec.refused is not None and rec.refused.startswith("only 3 h of data for fresh, need 24 h")
    assert rec.proposal is None and not rec.changes
    found = rightsize(
        "fresh",
        Settings(prometheus_url=prometheus),
        at=datetime.fromtimestamp(AT, UTC),
        metrics=PrometheusMetrics(prometheus),
        workspace=lambda: wiring.workspace(repo),
    )
    assert found.refused == rec.refused and found.proposal is None
    text = recommendation_text(found)
    assert "not rightsized: only 3 h of data" in text
    result = CliRunner().invoke(
        app, ["rightsize", "fresh", "--prometheus-url", prometheus, "--repo", str(repo), "--at", str(AT)]
    )
    assert result.exit_code == 1 and "need 24 h" in result.stdout


def test_a_manifest_without_a_namespace_still_finds_its_usage(prometheus: str, tmp_path: Path) -> None:
    files = {"apps/api/deployment.yaml": FILES["apps/api/deployment.yaml"].replace("  namespace: shop\n", "")}
    repo = make_remote(tmp_path / "plain", files).work
    rec = _recommend(prometheus, repo, "api")
    assert rec.refused is None and [c.field for c in rec.changes] == ["cpu_request"]
