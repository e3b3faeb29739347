"""The scenario generator writes well-formed, realistic, reproducible and varied incidents."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import subprocess
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenariogen import KINDS, generate
from scenariogen.cli import knobs_from, parser
from scenariogen.demo import DEMO_KNOBS, DEMO_SEED, DEST, FILES
from scenariogen.grading import effective, grade, load_docs
from scenariogen.names import rfc3339
from scenariogen.plan import make_plan

CASES: list[tuple[str, int, dict[str, Any]]] = [
    ("traffic_surge", 11, {"layout": "kustomize", "hpa": True, "root": "base"}),
    ("cpu_limit", 12, {"layout": "helm", "convention": "otel"}),
    ("memory_limit", 13, {"layout": "plain", "quirk": True, "root": "apps"}),
    ("bad_deploy", 14, {"layout": "kustomize", "downstream": True, "variant": "errors", "quirk": False}),
    ("bad_deploy", 15, {"layout": "plain", "variant": "crashloop", "root": "k8s", "step": 60}),
    ("transient", 16, {"layout": "plain", "quirk": False, "root": "apps"}),
]


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("scenarios")
    return [
        generate(out, seed, kind, window_min=90, name=f"t{i}-{kind}", **knobs)
        for i, (kind, seed, knobs) in enumerate(CASES)
    ]


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _clone(scenario: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "-b", "main", str(scenario / "repo.bundle"), str(dest)], check=True)
    for k, v in (("user.email", "t@example.com"), ("user.name", "t")):
        subprocess.run(["git", "-C", str(dest), "config", k, v], check=True)
    return dest


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _alert_expr(scenario: Path) -> str:
    url = _json(scenario / "alert.json")["alerts"][0]["generatorURL"]
    return urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["g0.expr"][0]


def test_files_and_alert_payload(suite: list[Path]) -> None:
    for d in suite:
        assert sorted(p.name for p in d.iterdir()) == sorted(FILES)
        sc, exp, alert = _json(d / "scenario.json"), _json(d / "expected.json"), _json(d / "alert.json")
        assert set(sc) == {"name", "at", "at_rfc3339", "start", "step"} and sc["start"] < sc["at"]
        assert alert["version"] == "4" and alert["status"] == "firing" and len(alert["alerts"]) == 1
        a = alert["alerts"][0]
        assert a["labels"]["alertname"] and a["labels"]["namespace"] == exp["namespace"]
        assert a["startsAt"] <= sc["at_rfc3339"] and a["endsAt"] == "0001-01-01T00:00:00Z"
        assert (
            alert["commonLabels"] == a["labels"]
            and alert["groupLabels"]["alertname"] == a["labels"]["alertname"]
        )
        assert " > " in _alert_expr(d) or " >= " in _alert_expr(d) or "== 1" in _alert_expr(d)
        assert exp["root_cause"]["kind"] in KINDS and exp["layout"] in ("plain", "kustomize", "helm")
        assert exp["remediation"]["action"] in (
            "scale",
            "set_cpu_limit",
            "set_memory_limit",
            "revert",
            "none",
        )
    downstream = _json(suite[3] / "expected.json")
    assert downstream["alerting_service"] != downstream["root_cause"]["service"]


def test_openmetrics_is_well_formed(suite: list[Path]) -> None:
    for d in suite:
        sc = _json(d / "scenario.json")
        lines = gzip.decompress((d / "metrics.om.gz").read_bytes()).decode().splitlines()
        assert lines[0].startswith("# TYPE ") and lines[-1] == "# EOF"
        types: dict[str, str] = {}
        seen_done: set[str] = set()
        current = None
        for line in lines[:-1]:
            if line.startswith("# TYPE "):
                _, _, fam, typ = line.split(" ")
                assert fam not in types, f"family {fam} declared twice"
                types[fam] = typ
                assert not fam.endswith("_total")
                continue
            name, rest = line.split("{", 1)
            value, ts = rest.rsplit("} ", 1)[1].split(" ")
            assert sc["start"] <= int(ts) <= sc["at"] and float(value) >= 0
            fam = next((f for f in types if name == f or name.startswith(f + "_")), name)
            if types.get(fam) == "counter":
                assert name == fam + "_total"
            if fam != current:
                assert fam not in seen_done, f"samples of {fam} are not contiguous"
                if current:
                    seen_done.add(current)
                current = fam
        for fam in (
            "kube_pod_container_resource_limits",
            "kube_pod_owner",
            "kube_replicaset_owner",
            "container_cpu_cfs_throttled_periods",
            "kube_pod_container_status_restarts",
        ):
            assert fam in types


def test_logs_are_loki_shaped(suite: list[Path]) -> None:
    for d in suite:
        sc = _json(d / "scenario.json")
        rows = [
            json.loads(x) for x in gzip.decompress((d / "logs.jsonl.gz").read_bytes()).decode().splitlines()
        ]
        assert len(rows) > 200
        assert {"namespace", "pod", "container", "app", "job"} <= set(rows[0]["labels"])
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]) for r in rows)
        lo, hi = rfc3339(sc["start"]), sc["at_rfc3339"]
        assert all(lo <= r["ts"] <= hi and isinstance(r["line"], str) for r in rows)
    bad = [
        json.loads(x)["line"]
        for x in gzip.decompress((suite[3] / "logs.jsonl.gz").read_bytes()).decode().splitlines()
    ]
    assert any("upstream request failed" in line for line in bad)


def test_repository_history_and_manifests(suite: list[Path], tmp_path: Path) -> None:
    for i, d in enumerate(suite):
        exp = _json(d / "expected.json")
        repo = _clone(d, tmp_path / f"r{i}")
        log = _git(repo, "log", "--format=%at|%s").splitlines()
        first_t, first_s = log[-1].split("|", 1)
        assert (
            first_s == "Initial GitOps layout"
            and int(first_t) < _json(d / "scenario.json")["start"] - 2 * 86400
        )
        assert any(s.endswith("refresh configuration") for s in (x.split("|", 1)[1] for x in log))
        assert sorted(_git(repo, "ls-files").split()) == sorted(exp["files"])
        for rel in exp["files"]:
            if not rel.endswith(".yaml") or "/templates/" in rel:
                continue
            path = repo / rel
            if exp.get("quirk") and rel.endswith("deployment.yaml"):
                with pytest.raises(yaml.YAMLError):
                    load_docs(path)
            assert load_docs(path, tolerant=True), rel
        if exp["remediation"]["action"] == "revert":
            bad = exp["remediation"]["commit"]
            assert (
                _git(repo, "show", "-s", "--format=%s", bad).strip() == exp["remediation"]["commit_message"]
            )
            _git(repo, "revert", "--no-commit", bad)  # reverts cleanly on HEAD


def _set_value(repo: Path, exp: dict[str, Any], value: float) -> str:
    """A person's one-line fix: edit the line that carries the effective value, return the diff."""
    rem, paths, svc = exp["remediation"], exp["paths"], exp["root_cause"]["service"]
    field = {"set_cpu_limit": "cpu", "set_memory_limit": "memory"}.get(rem["action"], rem.get("field"))
    text_of = {"cpu": f"{value:g}", "memory": str(int(value))}
    if (
        field == "replicas"
        and exp["layout"] == "kustomize"
        and f"name: {svc}\n    count:" in (repo / paths["overlay"]).read_text()
    ):
        f, pat = paths["overlay"], rf"(- name: {re.escape(svc)}\n\s+count: )\d+"
    elif field == "replicas":
        f, pat = paths.get("values") or paths["deployment"], r"((?:replicaCount|  replicas): )\d+"
    elif field == "hpa.maxReplicas":
        f, pat = paths.get("values") or paths["hpa"], r"(maxReplicas: )\d+"
    elif paths.get("patch") and re.search(
        rf"limits/{field}$|^\s+{field}: ", (repo / paths["patch"]).read_text(), re.M
    ):
        f, pat = paths["patch"], rf"(limits/{field}\n\s+value: |^\s+{field}: )\S+"
    else:
        f = paths.get("values") or paths["deployment"]
        pat = r"(limits:\n\s+cpu: )\S+" if field == "cpu" else r"(limits:\n(?:\s+cpu: .*\n)?\s+memory: )\S+"
    for later in reversed(paths.get("value_files") or []):  # Helm: the last values file that sets it
        if re.search(pat, (repo / later).read_text(), re.M):
            f = later
            break
    path = repo / f
    new, n = re.subn(
        pat,
        lambda m: m.group(1) + text_of.get(str(field), str(int(value))),
        path.read_text(),
        count=1,
        flags=re.M,
    )
    assert n == 1, (f, pat)
    path.write_text(new)
    diff = _git(repo, "diff")
    _git(repo, "checkout", "--", f)
    return diff


def _check_remediation(d: Path, repo: Path) -> None:
    exp = _json(d / "expected.json")
    rem, svc = exp["remediation"], exp["root_cause"]["service"]
    prop: dict[str, Any] = {"action": rem["action"], "service": rem.get("service")}
    if rem["action"] == "none":
        prop = {"action": "none"}
    elif rem["action"] == "revert":
        _git(repo, "revert", "--no-commit", rem["commit"])
        prop |= {"commit": rem["commit"][:12], "diff": _git(repo, "diff", "HEAD")}
        _git(repo, "reset", "-q", "--hard")
    else:
        field = {"set_cpu_limit": "cpu", "set_memory_limit": "memory"}.get(rem["action"], rem["field"])
        current = effective(repo, exp, svc, field, tolerant=True)
        assert current < rem["min_value"] < rem["max_value"], (d.name, current, rem)
        prop["diff"] = _set_value(repo, exp, rem["min_value"])
    out = {"root_causes": [{"kind": exp["root_cause"]["kind"], "service": svc}], "proposal": prop}
    res = grade(out, exp, repo, tolerant=True)
    assert res["top1"] and res["remediation"], (d.name, res)
    assert res["diff_ok"] in (True, None), (d.name, res)


def test_remediation_is_consistent_with_repo_and_grader(suite: list[Path], tmp_path: Path) -> None:
    for i, d in enumerate(suite):
        _check_remediation(d, _clone(d, tmp_path / f"r{i}"))


@pytest.mark.slow
def test_random_draws_are_consistent(tmp_path: Path) -> None:
    for seed in range(100, 115):
        d = generate(tmp_path / "s", seed, step=60)
        _check_remediation(d, _clone(d, tmp_path / f"r{seed}"))


def test_cli_options_reach_generate() -> None:
    args = parser().parse_args(
        ["out", "--root", "k8s", "--quirk", "no", "--window-min", "60", "--bad-change", "config"]
    )
    assert knobs_from(args) == {"root": "k8s", "quirk": False, "window_min": 60, "bad_change": "config"}
    plan = make_plan(5, "bad_deploy", **knobs_from(args))
    assert (plan.root, plan.quirk, plan.bad_change, plan.at - plan.start) == ("k8s", False, "config", 3600)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 31, "bad_deploy", window_min=90, step=60)
    b = generate(tmp_path / "b", 31, "bad_deploy", window_min=90, step=60)
    for name in FILES:
        if name != "repo.bundle":
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    heads = [
        subprocess.run(
            ["git", "bundle", "list-heads", str(x / "repo.bundle")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for x in (a, b)
    ]
    assert heads[0] == heads[1]


def test_variety_across_seeds(tmp_path: Path) -> None:
    plans = [make_plan(seed) for seed in range(60)]
    assert {p.kind for p in plans} == set(KINDS)
    assert {p.layout for p in plans} == {"plain", "kustomize", "helm"}
    assert {p.convention for p in plans} == {"classic", "otel"}
    assert len({p.label for p in plans}) >= 5 and len({p.alert for p in plans}) >= 6
    assert len({p.root for p in plans}) >= 5 and len({p.namespace for p in plans}) >= 8
    assert len({s.name for p in plans for s in p.services}) >= 40
    assert sum(p.alerting != p.culprit for p in plans) >= 8 and sum(p.quirk for p in plans) >= 8
    downstream_kinds = Counter(p.kind for p in plans if p.alerting != p.culprit)
    assert len(downstream_kinds) >= 3
    x, y = generate(tmp_path, 41, window_min=90, step=60), generate(tmp_path, 42, window_min=90, step=60)
    assert (x / "metrics.om.gz").read_bytes() != (y / "metrics.om.gz").read_bytes()


def test_shipped_demo_is_a_clear_small_incident(tmp_path: Path) -> None:
    assert sum((DEST / n).stat().st_size for n in FILES) < 400_000
    exp = _json(DEST / "expected.json")
    assert exp["layout"] == "plain" and "quirk" not in exp and "alerting_service" not in exp
    assert exp["root_cause"]["kind"] == "memory_limit" and exp["remediation"]["action"] == "set_memory_limit"
    assert len([f for f in exp["files"] if f.endswith("deployment.yaml")]) == DEMO_KNOBS["n_services"]
    _check_remediation(DEST, _clone(DEST, tmp_path / "demo"))


def test_demo_recipe_still_generates(tmp_path: Path) -> None:
    fresh = generate(tmp_path, DEMO_SEED, "memory_limit", **DEMO_KNOBS)
    assert sum((fresh / n).stat().st_size for n in FILES) < 400_000
    exp = _json(fresh / "expected.json")
    assert exp["root_cause"]["kind"] == "memory_limit" and exp["layout"] == "plain" and "quirk" not in exp


def _query(url: str, path: str, **params: Any) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=30) as r:
        return json.load(r)["data"]["result"]


@pytest.mark.prometheus
def test_alert_expression_fires_in_real_prometheus(suite: list[Path], prometheus_binaries: None) -> None:
    from testkit.promserver import running_prometheus

    for d in [*suite, DEST]:
        sc, exp = _json(d / "scenario.json"), _json(d / "expected.json")
        labels = _json(d / "alert.json")["alerts"][0]["labels"]
        target = labels.get("pod") or (exp.get("alerting_service") or exp["root_cause"]["service"])
        expr = _alert_expr(d)
        with running_prometheus(d / "metrics.om.gz") as url:
            assert _query(url, "query", query="count(kube_pod_container_resource_limits)", time=sc["at"])
            now = _query(url, "query", query=expr, time=sc["at"])
            hits_now = [r for r in now if target in r["metric"].values()]
            span = _query(
                url, "query_range", query=expr, start=sc["start"] + 600, end=sc["at"], step=sc["step"]
            )
            hits_ever = [r for r in span if target in r["metric"].values()]
        assert hits_ever, (d.name, expr)
        if exp["root_cause"]["kind"] == "transient":
            assert not hits_now, (d.name, "a transient must have cleared by `at`")
        else:
            assert hits_now, (d.name, expr, target)


def _effective_or_unset(read: Any, *args: Any) -> float | None:
    """The effective value, or None where the manifests leave the field unset (an HPA owns the
    replica count, or no limit is set): both graders must agree on that too."""
    try:
        return float(read(*args))
    except KeyError:
        return None


@pytest.mark.shared
def test_grading_agrees_with_shared_grader(suite: list[Path], shared_dir: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("shared_grade", shared_dir / "scenarios" / "grade.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    checked = 0
    for i, d in enumerate(suite):
        exp = _json(d / "expected.json")
        if exp["layout"] == "helm" or exp.get("quirk") or exp["manifest_root"] not in ("apps", "base"):
            continue
        repo = _clone(d, tmp_path / f"r{i}")
        for w in (s for s in exp["files"] if s.endswith("deployment.yaml")):
            svc = w.split("/")[-2]
            for field in ("replicas", "cpu", "memory"):
                ours, theirs = (
                    _effective_or_unset(effective, repo, exp, svc, field),
                    _effective_or_unset(mod.effective, str(repo), exp["layout"], svc, field),
                )
                assert ours == theirs, (d.name, svc, field)
                checked += ours is not None
    assert checked >= 6


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "knobs"),
    [
        ("memory_limit", {"layout": "kustomize", "kustomize_patches": True, "variant": "growth"}),
        ("cpu_limit", {"layout": "kustomize", "kustomize_patches": True}),
        ("traffic_surge", {"layout": "helm", "prod_values": True, "hpa": True}),
        ("memory_limit", {"variant": "pre_oom", "layout": "helm", "prod_values": True}),
        ("traffic_surge", {"no_cpu_limits": True, "node_metrics": True, "layout": "plain"}),
        ("bad_deploy", {"red_herring": True, "summary_latency": True, "convention": "classic"}),
    ],
)
def test_real_cluster_variants_are_consistent(kind: str, knobs: dict[str, Any], tmp_path: Path) -> None:
    d = generate(tmp_path / "s", 321, kind, step=60, **knobs)
    exp = _json(d / "expected.json")
    for key, value in knobs.items():
        if key not in ("layout", "hpa", "variant", "convention") and value is True:
            assert key in exp["variants"], (key, exp["variants"])
    _check_remediation(d, _clone(d, tmp_path / "r"))
