"""Classifying commits per workload, on repositories in the plain, Kustomize and Helm layouts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.git.changes import describe, match_workload
from bot.adapters.git.history import LocalGitHistory
from bot.adapters.git.yamlpaths import track
from bot.ports.gitrepo import Commit, FileChange, WorkloadChange
from tests.git.repos import Repo, deployment, overlay

T0 = datetime(2026, 11, 20, tzinfo=UTC)
REG = "registry.example.com/shop"


def _latest(repo: Repo, workloads: list[str]) -> list[WorkloadChange]:
    history = LocalGitHistory(repo.path)
    commit = history.commits(T0 - timedelta(days=1), datetime.now(UTC) + timedelta(days=1), max_count=1)[0]
    return describe(commit, workloads)


@pytest.mark.parametrize("column", [6, 2, 0], ids=["valid-yaml", "dedented-2", "dedented-0"])
def test_plain_layout(tmp_path: Path, column: int) -> None:
    repo = Repo.init(tmp_path / "plain")
    svcs = ["web", "auth"]

    def dep(svc: str, **kw: object) -> str:
        return deployment(svc, f"{REG}/{svc}:1.4.2", item_column=column, **kw)  # type: ignore[arg-type]

    repo.commit("init", {f"apps/{s}/deployment.yaml": dep(s) for s in svcs} | {"README.md": "# x\n"}, at=T0)

    repo.commit("auth: release", {"apps/auth/deployment.yaml": dep("auth").replace("1.4.2", "1.5.0")})
    (change,) = _latest(repo, svcs)
    assert (change.workload, change.kinds, change.summary) == ("auth", {"image"}, "image 1.4.2 -> 1.5.0")
    assert change.details["image"]["from"] == f"{REG}/auth:1.4.2"
    assert change.files == ("apps/auth/deployment.yaml",)

    repo.commit("web: cpu", {"apps/web/deployment.yaml": dep("web", cpu="1500m", memory="1Gi")})
    (change,) = _latest(repo, svcs)
    assert change.kinds == {"resources"}
    assert change.details["resources"] == {
        "limits.cpu": {"from": "500m", "to": "1500m"},
        "limits.memory": {"from": "256Mi", "to": "1Gi"},
    }
    assert change.summary == "limits.cpu 500m -> 1500m; limits.memory 256Mi -> 1Gi"

    repo.commit(
        "web: debug", {"apps/web/deployment.yaml": dep("web", cpu="1500m", memory="1Gi", log_level="debug")}
    )
    (change,) = _latest(repo, svcs)
    assert (change.kinds, change.summary) == ({"env"}, "env LOG_LEVEL info -> debug")

    repo.commit(
        "auth: scale", {"apps/auth/deployment.yaml": dep("auth", replicas=5).replace("1.4.2", "1.5.0")}
    )
    (change,) = _latest(repo, svcs)
    assert (change.workload, change.kinds, change.summary) == ("auth", {"replicas"}, "replicas 2 -> 5")

    repo.commit(
        "docs", {"README.md": "# x\n\nOn-call: see runbooks.\n", "CHANGELOG.md": "- web config refresh\n"}
    )
    assert _latest(repo, svcs) == []


def test_kustomize_overlay_touches_only_the_named_workload(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "kustomize")
    svcs = ["web", "auth", "orders"]
    files: dict[str, str | None] = {f"base/{s}/deployment.yaml": deployment(s, f"{REG}/{s}") for s in svcs}
    tags = {"web": "1.11.9", "auth": "2.2.4", "orders": "1.9.6"}
    counts = {"web": 4, "auth": 2, "orders": 2}
    files["overlays/production/kustomization.yaml"] = overlay(tags, counts)
    repo.commit("init", files, at=T0)

    repo.commit(
        "auth: release 2.3.0",
        {"overlays/production/kustomization.yaml": overlay(tags | {"auth": "2.3.0"}, counts)},
    )
    (change,) = _latest(repo, svcs)
    assert (change.workload, change.kinds, change.summary) == ("auth", {"image"}, "image 2.2.4 -> 2.3.0")

    repo.commit(
        "orders: scale",
        {"overlays/production/kustomization.yaml": overlay(tags | {"auth": "2.3.0"}, counts | {"orders": 6})},
    )
    (change,) = _latest(repo, svcs)
    assert (change.workload, change.kinds, change.summary) == ("orders", {"replicas"}, "replicas 2 -> 6")

    repo.commit("web: base limits", {"base/web/deployment.yaml": deployment("web", f"{REG}/web", cpu="2")})
    (change,) = _latest(repo, svcs)
    assert (change.workload, change.kinds) == ("web", {"resources"})


def test_helm_values(tmp_path: Path) -> None:
    values = (
        'replicaCount: 2\nimage:\n  repository: {reg}/api\n  tag: "3.1.0"\n'
        "resources:\n  limits:\n    cpu: 500m\nfeatureFlags:\n  beta: false\n"
    )
    repo = Repo.init(tmp_path / "helm")
    repo.commit(
        "init",
        {"charts/api/values.yaml": values.format(reg=REG), "charts/api/Chart.yaml": "name: api\n"},
        at=T0,
    )
    changed = (
        values.format(reg=REG).replace('"3.1.0"', '"3.2.0"').replace("replicaCount: 2", "replicaCount: 3")
    )
    changed = changed.replace("cpu: 500m", "cpu: 750m").replace("beta: false", "beta: true")
    repo.commit("api: bump", {"charts/api/values.yaml": changed})
    (change,) = _latest(repo, ["api", "web"])
    assert change.kinds == {"image", "replicas", "resources", "config"}
    assert "image 3.1.0 -> 3.2.0" in change.summary and "replicas 2 -> 3" in change.summary
    assert change.details["config"] == {"featureFlags.beta": {"from": "false", "to": "true"}}


def test_umbrella_values_attribute_by_top_level_key() -> None:
    old = "web:\n  image:\n    tag: 1.0.0\nauth:\n  image:\n    tag: 2.0.0\n"
    new = old.replace("2.0.0", "2.1.0")
    changes = describe(_commit(FileChange("values-prod.yaml", old, new)), ["web", "auth"])
    assert [(c.workload, c.kinds, c.summary) for c in changes] == [
        ("auth", {"image"}, "image 2.0.0 -> 2.1.0")
    ]


def test_match_by_metadata_name_in_a_shared_multi_document_file() -> None:
    old = deployment("web", f"{REG}/web:1") + "---\n" + deployment("auth-api", f"{REG}/auth:1")
    new = deployment("web", f"{REG}/web:1") + "---\n" + deployment("auth-api", f"{REG}/auth:1", replicas=3)
    changes = describe(_commit(FileChange("manifests/all.yaml", old, new)), ["web", "auth"])
    assert [(c.workload, c.kinds) for c in changes] == [("auth", {"replicas"})]


def test_configmap_comment_and_other_kinds() -> None:
    cm_old = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  TIMEOUT: '5s'\n"
    cm_new = cm_old.replace("5s", "30s")
    (change,) = describe(_commit(FileChange("apps/web/configmap.yaml", cm_old, cm_new)), ["web"])
    assert (change.kinds, change.summary) == ({"config"}, "data.TIMEOUT 5s -> 30s")
    dep = deployment("web", f"{REG}/web:1")
    (change,) = describe(
        _commit(FileChange("apps/web/deployment.yaml", dep, dep.replace("on-call", "sre"))), ["web"]
    )
    assert change.kinds == {"other"}
    (change,) = describe(
        _commit(
            FileChange("apps/web/hpa.yaml", None, "kind: HorizontalPodAutoscaler\nspec:\n  maxReplicas: 8\n")
        ),
        ["web"],
    )
    assert change.kinds == {"replicas"} and change.summary == "added apps/web/hpa.yaml"
    assert describe(_commit(FileChange("apps/web/README.md", "a\n", "b\n")), ["web"]) == []
    assert describe(_commit(FileChange("logo.png", None, None, skipped="binary")), ["web"]) == []


def test_match_workload() -> None:
    assert match_workload("registry.example.com/shop/auth:1.2", ["auth", "web"]) == "auth"
    assert match_workload("edge-api", ["api", "edge-api"]) == "edge-api"
    assert match_workload("auth-config", ["auth", "web"]) == "auth"
    assert match_workload("authz", ["auth"]) is None


def test_tracker_paths_for_dedented_lists_and_block_scalars() -> None:
    text = (
        "spec:\n  containers:\n- name: a\n  args:\n  - --x\n  command: |\n    run: me\n  image: i\nafter: 1\n"
    )
    paths = [".".join(info.path) for info in track(text).lines]
    assert paths == [
        "spec",
        "spec.containers",
        "spec.containers.[a].name",
        "spec.containers.[a].args",
        "spec.containers.[a].args.[--x]",
        "spec.containers.[a].command",
        "spec.containers.[a].command.run",
        "spec.containers.[a].image",
        "after",
    ]


def _commit(*files: FileChange) -> Commit:
    return Commit(sha="c0ffee" * 6 + "abcd", at=T0, author="dev", subject="change", files=files)


def test_inline_kustomize_patches_are_classified_inside_the_block() -> None:
    old = (
        "kind: Kustomization\n"
        "patches:\n"
        "  - target: {kind: Deployment, name: auth}\n"
        "    patch: |-\n"
        "      - op: replace\n"
        "        path: /spec/replicas\n"
        "        value: 3\n"
        "  - target:\n"
        "      kind: Deployment\n"
        "      name: web\n"
        "    patch: |-\n"
        "      apiVersion: apps/v1\n"
        "      kind: Deployment\n"
        "      spec:\n"
        "        template:\n"
        "          spec:\n"
        "            containers:\n"
        "            - name: web\n"
        "              resources:\n"
        "                limits:\n"
        "                  memory: 512Mi\n"
    )
    new = old.replace("value: 3", "value: 5").replace("memory: 512Mi", "memory: 1Gi")
    changes = describe(_commit(FileChange("overlays/prod/kustomization.yaml", old, new)), ["web", "auth"])
    assert [(c.workload, c.kinds, c.summary) for c in changes] == [
        ("web", {"resources"}, "limits.memory 512Mi -> 1Gi"),
        ("auth", {"replicas"}, "replicas 3 -> 5"),
    ]


def test_json_and_flow_style_manifests_use_the_parsed_structure() -> None:
    old = '{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2, "template": {"spec": '
    old += (
        '{"containers": [{"name": "web", "image": "r/web:1.0", "resources": {"limits": {"cpu": "1"}}}]}}}}\n'
    )
    new = old.replace('"replicas": 2', '"replicas": 3').replace("r/web:1.0", "r/web:1.1")
    for path in ("deploy/web.json", "deploy/all.yaml"):
        (change,) = describe(_commit(FileChange(path, old, new)), ["web", "auth"])
        assert (change.workload, change.kinds) == ("web", {"image", "replicas"})
        assert change.summary == "replicas 2 -> 3; image 1.0 -> 1.1"
    pretty = json.dumps(json.loads(old), indent=2)
    (change,) = describe(_commit(FileChange("web.json", pretty, pretty.replace("1.0", "2.0"))), ["web"])
    assert (change.kinds, change.summary) == ({"image"}, "image 1.0 -> 2.0")


def test_argo_parameters_hpa_targets_and_tooling_paths() -> None:
    app = (
        "kind: Application\nmetadata:\n  name: web\nspec:\n  source:\n    helm:\n      parameters:\n"
        "        - name: image.tag\n          value: 1.0.0\n"
        "        - name: replicaCount\n          value: '2'\n"
    )
    new = app.replace("1.0.0", "1.1.0").replace("'2'", "'4'")
    (change,) = describe(_commit(FileChange("argocd/web.yaml", app, new)), ["web"])
    assert change.kinds == {"image", "replicas"}
    hpa = (
        "kind: HorizontalPodAutoscaler\nmetadata:\n  name: web\nspec:\n  targetCPUUtilizationPercentage: 80\n"
    )
    (change,) = describe(_commit(FileChange("apps/web/hpa.yaml", hpa, hpa.replace("80", "60"))), ["web"])
    assert change.kinds == {"replicas"}
    ci = "jobs:\n  web:\n    runs-on: ubuntu-latest\n"
    assert (
        describe(
            _commit(FileChange(".github/workflows/web.yaml", ci, ci.replace("latest", "22.04"))), ["web"]
        )
        == []
    )


def test_same_path_in_two_documents_stays_apart() -> None:
    one = deployment("web", f"{REG}/web:1.0") + "---\n" + deployment("web-canary", f"{REG}/web:2.0")
    two = deployment("web", f"{REG}/web:1.1") + "---\n" + deployment("web-canary", f"{REG}/web:2.1")
    (change,) = describe(_commit(FileChange("apps/web/all.yaml", one, two)), ["web"])
    assert change.summary == "image 1.0 -> 1.1; image 2.0 -> 2.1"
    assert [(c["from"], c["to"]) for c in change.details["changes"]] == [
        (f"{REG}/web:1.0", f"{REG}/web:1.1"),
        (f"{REG}/web:2.0", f"{REG}/web:2.1"),
    ]
