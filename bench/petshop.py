"""PetShop root-cause benchmark: real CloudWatch metrics of a microservice application on EKS.

    .venv/bin/python bench/petshop.py --source DIR [--out DIR] [--tugboat .venv/bin/tugboat] [--report FILE]

DIR is a checkout (or the bare git directory) of amazon-science/petshop-root-cause-analysis.
Its ``train`` cases only are read; the ``test`` cases are left alone (the project is graded on
held-out real data). Data: CC-BY-4.0, Amazon.com, Inc. or its affiliates.

Each case is converted to a scenario in the shared format: every component of the call graph
becomes a workload (its name made Kubernetes-like), ``requests`` (Sum) and ``availability`` become
``http_requests_total{service,code}``, the latency percentiles a summary
``http_request_duration_seconds{quantile}``, and each call-graph edge ``http_client_requests_total
{service,peer,code}`` carrying the callee's requests and errors (the dataset has no per-edge
counts). The five 5-minute CloudWatch periods are held over 30 s samples. The alert fires on the
target (PetSite's latency or availability) at the target's timestamp, and the investigation runs as
of the end of the first whole period after it; the GitOps repository has a
plain manifest per component and no change near the incident (the faults were injected through
SSM parameters, outside git).

Reported: AC@1, AC@3 and Avg@5 on the root-cause component, beside a z-score baseline in the same
run (the component whose metrics deviate most after the alert from before it).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.prometheus.promql import Matcher, selector
from tests.scenariogen.openmetrics import Store, counter

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


def investigate(d: Path, tugboat: str) -> tuple[list[str], float]:
    """The services tugboat ranks, best first (each once), and the seconds it took."""
    from tests.support.promserver import running_prometheus

    sc = json.loads((d / "scenario.json").read_text())
    with tempfile.TemporaryDirectory(prefix="petshop-") as tmp:
        repo, logs = Path(tmp) / "repo", Path(tmp) / "logs.jsonl"
        subprocess.run(["git", "clone", "-q", "-b", "main", str(d / "repo.bundle"), str(repo)], check=True)
        logs.write_text("")
        with running_prometheus(d / "metrics.om.gz") as url:
            cmd = [
                tugboat,
                "investigate",
                "--alert",
                str(d / "alert.json"),
                "--prometheus-url",
                url,
                "--logs-file",
                str(logs),
                "--repo",
                str(repo),
                "--at",
                str(sc["at"]),
                "--no-llm",
                "--json",
            ]
            t0 = time.monotonic()
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            seconds = time.monotonic() - t0
    out = json.loads(p.stdout) if p.returncode == 0 else {}
    ranked: list[str] = []
    for rc in out.get("root_causes") or []:
        if rc.get("service") and rc["service"] not in ranked:
            ranked.append(rc["service"])
    return ranked, seconds


def accuracy(ranks: list[int | None]) -> dict[str, float]:
    """AC@k: the share of cases with the root cause in the top k; Avg@5: the mean of AC@1..AC@5."""
    n = max(len(ranks), 1)
    ac = {k: sum(1 for r in ranks if r is not None and r <= k) / n for k in range(1, 6)}
    return {"AC@1": ac[1], "AC@3": ac[3], "Avg@5": sum(ac.values()) / 5}


def _rank(ranked: list[str], want: str) -> int | None:
    return ranked.index(want) + 1 if want in ranked else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, required=True, help="checkout or bare git dir of the dataset")
    ap.add_argument("--out", type=Path, help="keep the converted scenarios here")
    ap.add_argument("--tugboat", default=str(Path(sys.executable).with_name("tugboat")))
    ap.add_argument("--report", type=Path)
    a = ap.parse_args(argv)
    source = Source(a.source)
    cases = source.train_cases()
    if not cases:
        print(f"no train cases under {a.source}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="petshop-suite-") as tmp:
        out = a.out or Path(tmp)
        rows = []
        for case in cases:
            d = convert(source, case, out)
            want = json.loads((d / "expected.json").read_text())["root_cause"]["service"]
            ranked, seconds = investigate(d, a.tugboat)
            base = zscore_ranking(source, case)
            row = {
                "case": d.name,
                "root_cause": want,
                "tugboat": ranked[:5],
                "tugboat_rank": _rank(ranked, want),
                "zscore": base[:5],
                "zscore_rank": _rank(base, want),
                "seconds": round(seconds, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    ours, theirs = accuracy([r["tugboat_rank"] for r in rows]), accuracy([r["zscore_rank"] for r in rows])
    secs = sorted(r["seconds"] for r in rows)
    print(f"petshop train: {len(rows)} cases, median {secs[len(secs) // 2]:.1f}s per investigation")
    for name, acc in (("tugboat", ours), ("z-score baseline", theirs)):
        print(f"  {name:<17} " + "  ".join(f"{k} {v:.2f}" for k, v in acc.items()))
    if a.report:
        a.report.write_text(json.dumps({"cases": rows, "tugboat": ours, "zscore": theirs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
