"""PetShop cases as scenarios in the shared format, and the z-score baseline (bench/petshop.py).

Data: amazon-science/petshop-root-cause-analysis, CC-BY-4.0, Amazon.com, Inc. or its affiliates;
only its ``train`` cases are read.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.ports.promql import Matcher, selector
from scenariogen.openmetrics import Store, counter

STEP = 30
PERIOD = 300
NAMESPACE = "petshop"
ATTRIBUTION = (
    "Converted from the PetShop dataset (amazon-science/petshop-root-cause-analysis), "
    "CC-BY-4.0, Copyright Amazon.com, Inc. or its affiliates. Changed: converted to OpenMetrics "
    "with Prometheus metric names, an Alertmanager payload and a GitOps repository."
)


class Source:
    """The dataset, from a work tree or a bare git directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bare = not (root / "dataset").is_dir()

    def read(self, rel: str) -> str:
        if not self.bare:
            return (self.root / rel).read_text()
        return subprocess.run(
            ["git", "--git-dir", str(self.root), "show", f"HEAD:{rel}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def train_cases(self) -> list[str]:
        if not self.bare:
            found = sorted(
                str(p.parent.relative_to(self.root)) for p in self.root.glob("dataset/*/train/*/target.json")
            )
        else:
            names = subprocess.run(
                ["git", "--git-dir", str(self.root), "ls-tree", "-r", "--name-only", "HEAD", "dataset"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            found = sorted(
                n.rsplit("/", 1)[0]
                for n in names
                if re.fullmatch(r"dataset/[^/]+/train/[^/]+/target\.json", n)
            )
        return [c for c in found if "/train/" in c]  # never the test split


def k8s_name(node: str) -> str:
    """``PetSearch_AWS::ECS::Fargate`` -> ``petsearch-aws-ecs-fargate`` (a DNS label)."""
    name = re.sub(r"[^a-z0-9]+", "-", node.lower()).strip("-")
    return name[:63].rstrip("-") or "component"


def load_metrics(text: str) -> tuple[np.ndarray, dict[tuple[str, str, str], np.ndarray]]:
    rows = list(csv.reader(io.StringIO(text)))
    nodes, metrics, stats = rows[0][1:], rows[1][1:], rows[2][1:]
    body = [r for r in rows[3:] if r and r[0] and r[0] != "unix_timestamp"]
    ts = np.array([float(r[0]) for r in body])
    values = {}
    for j, key in enumerate(zip(nodes, metrics, stats, strict=True)):
        values[key] = np.array([float(r[j + 1]) if r[j + 1] not in ("", "nan") else np.nan for r in body])
    return ts, values


def load_graph(text: str) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    heads = rows[0][1:]
    return {
        r[0]: [h for h, v in zip(heads, r[1:], strict=True) if v.strip() not in ("0", "0.0", "", "False")]
        for r in rows[1:]
    }


def _held(ts: np.ndarray, grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(ts, grid, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, len(values) - 1)], np.nan)


def build_store(
    ts: np.ndarray, values: dict[tuple[str, str, str], np.ndarray], graph: dict[str, list[str]]
) -> tuple[Store, dict[str, np.ndarray]]:
    grid = np.arange(ts[0], ts[-1] + PERIOD, STEP)
    store = Store(grid)
    per = STEP / PERIOD
    errors: dict[str, np.ndarray] = {}
    for node in sorted({k[0] for k in values}):
        svc = k8s_name(node)
        req = values.get((node, "requests", "Sum"))
        if req is None or not np.isfinite(req).any():
            continue
        avail = values.get((node, "availability", "Average"), np.full(len(ts), 100.0))
        avail = np.where(np.isfinite(avail), avail, 100.0)
        total = _held(ts, grid, np.nan_to_num(req)) * per
        err = total * (1 - _held(ts, grid, avail) / 100.0)
        errors[node] = err
        lab = {"namespace": NAMESPACE, "service": svc, "job": f"{NAMESPACE}/{svc}"}
        for code, inc in (("200", total - err), ("500", err)):
            store.add(
                "http_requests",
                "counter",
                "http_requests_total",
                {**lab, "code": code},
                counter(inc, integer=False),
            )
        for q, stat in (("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99")):
            lat = values.get((node, "latency", stat))
            if lat is not None:  # the dataset writes 0 where CloudWatch had no datapoint
                lat = np.where(lat > 0, lat, np.nan)
            if lat is not None and np.isfinite(lat).any():
                store.add(
                    "http_request_duration_seconds",
                    "summary",
                    "http_request_duration_seconds",
                    {**lab, "quantile": q},
                    _held(ts, grid, lat),
                )
        store.add(
            "http_request_duration_seconds",
            "summary",
            "http_request_duration_seconds_count",
            lab,
            counter(total),
        )
    for caller, callees in graph.items():
        for callee in callees:
            if callee not in errors or caller == callee:
                continue
            n_callers = sum(callee in c for c in graph.values()) or 1
            req = values[(callee, "requests", "Sum")]
            total = _held(ts, grid, np.nan_to_num(req)) * per / n_callers
            err = errors[callee] / n_callers
            lab = {"namespace": NAMESPACE, "service": k8s_name(caller), "peer": k8s_name(callee)}
            for code, inc in (("200", total - err), ("500", err)):
                store.add(
                    "http_client_requests",
                    "counter",
                    "http_client_requests_total",
                    {**lab, "code": code},
                    counter(inc),
                )
    return store, errors


def _alert(
    target: dict[str, Any], ts: np.ndarray, values: dict[tuple[str, str, str], np.ndarray]
) -> dict[str, Any]:
    svc = k8s_name(target["node"])
    before = ts < target["timestamp"] - PERIOD
    ns, who = Matcher("namespace", NAMESPACE), Matcher("service", svc)
    if target["metric"] == "availability":
        avail = values[(target["node"], "availability", "Average")]
        t = round(float(np.nanmin(avail[before])) if before.any() else 99.0, 3)
        errors = selector("http_requests_total", ns, who, Matcher("code", "5..", "=~"))
        total = selector("http_requests_total", ns, who)
        ratio = f"sum by (service) (rate({errors}[5m])) / sum by (service) (rate({total}[5m]))"
        expr = f"{ratio} > {1 - t / 100:.4g}"
        name = "PetSiteAvailabilityLow"
    else:
        lat = values[(target["node"], "latency", "p90")]
        t = round(float(np.nanmax(lat[before])) * 1.2 if before.any() else 1.0, 3)
        quantile = selector("http_request_duration_seconds", ns, who, Matcher("quantile", "0.9"))
        expr = f"max by (service) ({quantile}) > {t:g}"
        name = "PetSiteLatencyHigh"
    from urllib.parse import quote

    starts = int(target["timestamp"])
    alert = {
        "status": "firing",
        "labels": {"alertname": name, "namespace": NAMESPACE, "service": svc, "severity": "warning"},
        "annotations": {"summary": f"{target['node']} {target['metric']} degraded"},
        "startsAt": _rfc3339(starts),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={quote(expr, safe='/')}",
        "fingerprint": f"{abs(hash((name, starts))) % 16**16:016x}",
    }
    return {
        "version": "4",
        "status": "firing",
        "receiver": "tugboat",
        "groupLabels": {"alertname": name},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "alerts": [alert],
    }


def _rfc3339(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _repo(services: list[str], at: int, path: Path) -> None:
    path.mkdir(parents=True)
    env = {
        "GIT_AUTHOR_DATE": f"{at - 14 * 86400} +0000",
        "GIT_COMMITTER_DATE": f"{at - 14 * 86400} +0000",
        "GIT_AUTHOR_NAME": "petshop",
        "GIT_AUTHOR_EMAIL": "ops@example.com",
        "GIT_COMMITTER_NAME": "petshop",
        "GIT_COMMITTER_EMAIL": "ops@example.com",
        "PATH": "/usr/bin:/bin",
    }
    (path / "README.md").write_text(f"# petshop\n\n{ATTRIBUTION}\n")
    for svc in services:
        d = path / "apps" / svc
        d.mkdir(parents=True)
        (d / "deployment.yaml").write_text(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {svc}\n"
            f"  namespace: {NAMESPACE}\nspec:\n"
            f"  replicas: 2\n  selector:\n    matchLabels:\n      app: {svc}\n  template:\n    metadata:\n"
            f"      labels:\n        app: {svc}\n    spec:\n      containers:\n        - name: {svc}\n"
            f"          image: registry.example.com/petshop/{svc}:1.0.0\n"
        )
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "Initial GitOps layout"],
    ):
        subprocess.run(["git", "-C", str(path), *args], check=True, env=env, capture_output=True)


def convert(source: Source, case: str, out: Path) -> Path:
    target = json.loads(source.read(f"{case}/target.json"))
    ts, values = load_metrics(source.read(f"{case}/metrics.csv"))
    graph = load_graph(source.read(f"{case.split('/train/')[0]}/graph.csv"))
    store, _ = build_store(ts, values, graph)
    d = out / case.replace("dataset/", "").replace("/train/", "-").replace("_", "-")
    d.mkdir(parents=True, exist_ok=True)
    store.write(d / "metrics.om.gz")
    # as of the end of the first whole period after the alert: the episodes are short, and an
    # investigation runs while the alert is fresh, not after the window the dataset happens to hold
    after = ts[ts >= target["target"]["timestamp"]]
    at = int(after[0] if after.size else ts[-1]) + PERIOD - STEP
    (d / "scenario.json").write_text(
        json.dumps(
            {"name": d.name, "at": at, "at_rfc3339": _rfc3339(at), "start": int(ts[0]), "step": STEP},
            indent=2,
        )
        + "\n"
    )
    (d / "alert.json").write_text(json.dumps(_alert(target["target"], ts, values), indent=2) + "\n")
    services = sorted({k8s_name(k[0]) for k in values})
    expected = {
        "root_cause": {"kind": None, "service": k8s_name(target["root_cause"]["node"])},
        "remediation": {"action": "none"},
        "source": case,
        "attribution": ATTRIBUTION,
    }
    (d / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    with open(d / "logs.jsonl.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0):
        pass  # the dataset has no logs
    with tempfile.TemporaryDirectory() as tmp:
        _repo(services, at, Path(tmp) / "repo")
        subprocess.run(
            ["git", "-C", str(Path(tmp) / "repo"), "bundle", "create", "-q", str(d / "repo.bundle"), "main"],
            check=True,
            capture_output=True,
        )
    return d


def zscore_ranking(source: Source, case: str) -> list[str]:
    """The baseline: components ranked by the largest |z| of any of their metrics after the alert,
    against the periods before it."""
    target = json.loads(source.read(f"{case}/target.json"))["target"]
    ts, values = load_metrics(source.read(f"{case}/metrics.csv"))
    before, after = ts < target["timestamp"] - PERIOD, ts >= target["timestamp"] - PERIOD
    best: dict[str, float] = {}
    for (node, _metric, _stat), v in values.items():
        b, a = v[before & np.isfinite(v)], v[after & np.isfinite(v)]
        if not b.size or not a.size:
            continue
        spread = max(float(np.std(b)), 0.05 * abs(float(np.mean(b))), 1e-6)
        z = float(np.max(np.abs(a - np.mean(b)))) / spread
        best[k8s_name(node)] = max(best.get(k8s_name(node), 0.0), z)
    return sorted(best, key=lambda n: -best[n])
