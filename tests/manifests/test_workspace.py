"""ManifestRepo on real git repositories built in temp directories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.adapters.manifests.editor import BY_LINE_NOTE
from bot.adapters.manifests.tree import load_data
from bot.adapters.manifests.workspace import ManifestRepo, PlannedEdit
from bot.domain.errors import InvalidInput


def deployment(
    name: str, replicas: int = 2, image: str = "", cpu: str = "500m", containers_at: int = 8
) -> str:
    image = image or f"registry.example.com/shop/{name}:1.0.0"
    pad = " " * containers_at
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
        f"  replicas: {replicas}  # owned by on-call\n  template:\n    spec:\n      containers:\n"
        f"{pad[:-2]}- name: {name}\n{pad}image: {image}\n{pad}resources:\n"
        f"{pad}  limits:\n{pad}    cpu: {cpu}\n{pad}    memory: 512Mi\n"
    )


def hpa(name: str, low: int = 2, high: int = 6) -> str:
    return (
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n"
        f"  name: {name}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n"
        f"    name: {name}\n  minReplicas: {low}\n  maxReplicas: {high}\n"
    )


def git_repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode())
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "init",
        ],
        check=True,
    )
    return root


def apply(root: Path, planned: PlannedEdit) -> None:
    """The diff applies at HEAD and produces exactly the planned texts."""
    subprocess.run(["git", "-C", str(root), "apply", "-"], input=planned.diff.encode(), check=True)
    for rel, text in planned.new_texts.items():
        assert (root / rel).read_bytes().decode() == text
    minus = [ln for ln in planned.diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    assert len(minus) == 1


def test_plain_layout_with_and_without_hpa(tmp_path: Path) -> None:
    root = git_repo(
        tmp_path,
        {
            "apps/checkout/deployment.yaml": deployment("checkout", 3),
            "apps/checkout/hpa.yaml": hpa("checkout", 2, 6),
            "apps/web/deployment.yaml": deployment("web", 2, cpu="2"),
            "README.md": "# shop\n",
        },
    )
    repo = ManifestRepo(root)
    found = {w.name: w for w in repo.workloads()}
    assert set(found) == {"checkout", "web"}
    assert found["checkout"].hpa_file == "apps/checkout/hpa.yaml"
    assert found["web"].containers == ["web"]

    eff = repo.effective("checkout", "replicas")
    assert (eff.file, eff.path, eff.value, eff.field) == (
        "apps/checkout/hpa.yaml",
        "spec.maxReplicas",
        6,
        "hpa.maxReplicas",
    )
    planned = repo.plan("checkout", "replicas", 10)
    assert [c.public() for c in planned.changes] == [
        {"file": "apps/checkout/hpa.yaml", "field": "hpa.maxReplicas", "from": 6, "to": 10,
         "resource": "HorizontalPodAutoscaler/checkout"}
    ]  # fmt: skip
    assert "owns its replica count" in planned.notes[0]
    apply(root, planned)
    with pytest.raises(InvalidInput, match="below the autoscaler's minReplicas"):
        repo.plan("checkout", "replicas", 1)

    planned = repo.plan("web", "cpu", 3.5)
    assert planned.changes[0].from_ == 2.0 and planned.changes[0].to == 3.5
    assert "+            cpu: 3500m\n" in planned.diff
    apply(root, planned)
    planned = repo.plan("web", "memory", 1.5 * 2**30)
    assert planned.changes[0].to == 1536 * 2**20
    assert repo.plan("web", "replicas", 4).changes[0].file == "apps/web/deployment.yaml"


def test_kustomize_overlay_overrides_the_base(tmp_path: Path) -> None:
    overlay = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources:\n"
        "  - ../../base/checkout\n  - ../../base/web\nreplicas:\n  - name: checkout\n    count: 4\n"
        'images:\n  - name: registry.example.com/shop/checkout\n    newTag: "1.4.2"\n'
    )
    staging = overlay.replace("count: 4", "count: 1").replace("namespace: shop", "namespace: shop-staging")
    base = "resources:\n  - deployment.yaml\n"
    root = git_repo(
        tmp_path,
        {
            "base/checkout/deployment.yaml": deployment(
                "checkout", 1, image="registry.example.com/shop/checkout"
            ),
            "base/checkout/kustomization.yaml": base,
            "base/web/deployment.yaml": deployment("web", 2),
            "base/web/kustomization.yaml": base,
            "overlays/production/kustomization.yaml": overlay,
            "overlays/staging/kustomization.yaml": staging,
        },
    )
    repo = ManifestRepo(root)
    checkout = repo.find("checkout")
    assert checkout.namespace == "shop"
    eff = repo.effective(checkout, "replicas")
    assert (eff.file, eff.path, eff.value) == (
        "overlays/production/kustomization.yaml",
        "replicas[name=checkout].count",
        4,
    )
    assert "chose overlays/production" in eff.explanation
    planned = repo.plan(checkout, "replicas", 8)
    assert planned.changes[0].file == "overlays/production/kustomization.yaml" and planned.changes[0].to == 8
    apply(root, planned)
    assert (
        load_data((root / "overlays/production/kustomization.yaml").read_text())[0]["replicas"][0]["count"]
        == 8
    )

    eff = repo.effective(checkout, "image")
    assert eff.value == "registry.example.com/shop/checkout:1.4.2"
    planned = repo.plan(checkout, "image", "registry.example.com/shop/checkout:1.4.1")
    assert '+    newTag: "1.4.1"\n' in planned.diff
    assert planned.changes[0].to == "registry.example.com/shop/checkout:1.4.1"

    # web has no override: the base decides
    assert repo.effective("web", "replicas").file == "base/web/deployment.yaml"
    assert repo.plan("web", "cpu_request", 0.25).changes[0].to == 0.25


TEMPLATE = "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"


def test_helm_values(tmp_path: Path) -> None:
    values = (
        "# Default values\nreplicaCount: 1\nimage:\n  repository: ghcr.io/acme/api\n  tag: 6.1.0\n"
        "resources:\n  limits:\n  requests:\n    cpu: 1m\n    memory: 16Mi\nautoscaling:\n  enabled: false\n"
        "  maxReplicas: 10\n"
    )
    root = git_repo(
        tmp_path,
        {
            "charts/api/Chart.yaml": "apiVersion: v2\nname: api\nversion: 1.0.0\n",
            "charts/api/values.yaml": values,
            "charts/api/templates/deployment.yaml": TEMPLATE,
        },
    )
    repo = ManifestRepo(root)
    [api] = repo.workloads()
    assert (api.name, api.kind, api.chart, api.file) == (
        "api",
        "Deployment",
        "charts/api",
        "charts/api/values.yaml",
    )
    assert repo.effective(api, "replicas").path == "replicaCount"
    apply(root, repo.plan(api, "replicas", 3))
    planned = repo.plan(api, "cpu", 0.5)  # limits: is empty: the key is added under it
    assert "+    cpu: 500m\n" in planned.diff and planned.changes[0].from_ is None
    assert repo.plan(api, "image", "ghcr.io/acme/api:6.1.1").changes[0].to == "ghcr.io/acme/api:6.1.1"

    (root / "charts/api/values.yaml").write_text(values.replace("enabled: false", "enabled: true"))
    eff = ManifestRepo(root).effective("api", "replicas")
    assert (eff.path, eff.value, eff.field) == ("autoscaling.maxReplicas", 10, "hpa.maxReplicas")


def test_invalid_yaml_is_edited_by_line(tmp_path: Path) -> None:
    text = deployment("ledger", 2, containers_at=2)  # list items dedented below `containers:`
    with pytest.raises(Exception):  # noqa: B017 - any YAML error: the file is really not YAML
        load_data(text)
    root = git_repo(tmp_path, {"apps/ledger/deployment.yaml": text})
    repo = ManifestRepo(root)
    [ledger] = repo.workloads()
    assert ledger.containers == ["ledger"]
    assert repo.effective(ledger, "cpu").value == 0.5
    planned = repo.plan(ledger, "cpu", 1.5)
    assert BY_LINE_NOTE in planned.notes
    # GitOps cannot apply an invalid file, so the plan also moves the list under its key
    assert any("was not valid YAML" in note and "`containers:`" in note for note in planned.notes)
    [after] = load_data(planned.new_texts["apps/ledger/deployment.yaml"])
    [container] = after["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "ledger" and container["resources"]["limits"]["cpu"] == "1500m"
    removed = [ln[1:] for ln in planned.diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:] for ln in planned.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    # every moved line keeps its text; only the value's own text differs
    assert [a.strip() for a in added] == [r.strip().replace("500m", "1500m") for r in removed]
    with pytest.raises(InvalidInput, match="not valid YAML"):
        repo.plan(ledger, "cpu_request", 1)  # adding a key by line is refused
    subprocess.run(["git", "-C", str(root), "apply", "-"], input=planned.diff.encode(), check=True)
    repo = ManifestRepo(root)  # the file is valid YAML now, so new keys can be added too
    assert repo.plan(ledger.name, "cpu_request", 1).changes[0].to == 1.0


def test_multi_document_workload_and_statefulset(tmp_path: Path) -> None:
    sts = deployment("db", 1).replace("kind: Deployment", "kind: StatefulSet")
    text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\n---\n" + sts + "---\n" + hpa("other")
    root = git_repo(tmp_path, {"db.yaml": text})
    repo = ManifestRepo(root)
    [db] = repo.workloads()
    assert db.resource == "StatefulSet/db"
    planned = repo.plan(db, "replicas", 3)
    assert planned.changes[0].resource == "StatefulSet/db"
    apply(root, planned)


def test_kustomize_patches_set_the_effective_value(tmp_path: Path) -> None:
    patch = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 5\n"
        "  template:\n    spec:\n      containers:\n        - name: api\n          resources:\n"
        "            limits:\n              memory: 2Gi\n"
    )
    overlay = (
        "resources:\n  - ../../base\npatches:\n  - path: api-patch.yaml\n"
        "  - patch: |-\n      - op: replace\n        path: /spec/replicas\n        value: 9\n"
        "    target:\n      kind: Deployment\n      name: other\n"
    )
    root = git_repo(
        tmp_path,
        {
            "base/deployment.yaml": deployment("api", 1),
            "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
            "overlays/prod/kustomization.yaml": overlay,
            "overlays/prod/api-patch.yaml": patch,
        },
    )
    repo = ManifestRepo(root)
    assert [w.file for w in repo.workloads()] == ["base/deployment.yaml"]  # a patch is not a workload
    eff = repo.effective("api", "replicas")
    assert (eff.file, eff.value) == ("overlays/prod/api-patch.yaml", 5)
    eff = repo.effective("api", "memory")
    assert (eff.file, eff.value, eff.container) == ("overlays/prod/api-patch.yaml", 2 * 2**30, "api")
    assert repo.effective("api", "cpu").file == "base/deployment.yaml"  # the patch leaves cpu alone
    planned = repo.plan("api", "memory", 3 * 2**30)
    assert planned.changes[0].file == "overlays/prod/api-patch.yaml" and planned.changes[0].to == 3 * 2**30
    apply(root, planned)
    apply(root, ManifestRepo(root).plan("api", "replicas", 6))  # a fresh snapshot of the tree


WITH_HPA = "resources:\n  - ../../base/web\n  - ../../base/web/hpa.yaml\n"


def test_kustomize_hpa_counts_only_where_the_overlay_deploys_it(tmp_path: Path) -> None:
    root = git_repo(
        tmp_path,
        {
            "base/web/deployment.yaml": deployment("web", 1),
            "base/web/hpa.yaml": hpa("web", 2, 5),
            "base/web/kustomization.yaml": "resources:\n  - deployment.yaml\n",
            "overlays/staging/kustomization.yaml": WITH_HPA,
            "overlays/production/kustomization.yaml": "resources:\n  - ../../base/web\n",
        },
    )
    repo = ManifestRepo(root)
    assert repo.find("web").hpa_file is None  # production does not deploy the HPA
    assert repo.effective("web", "replicas").file == "base/web/deployment.yaml"
    (root / "overlays/production/kustomization.yaml").write_text(WITH_HPA)
    repo = ManifestRepo(root)
    assert repo.find("web").hpa_file == "base/web/hpa.yaml"
    eff = repo.effective("web", "replicas")
    assert (eff.file, eff.field, eff.value) == ("base/web/hpa.yaml", "hpa.maxReplicas", 5)


UMBRELLA = """\
images:
  repository: registry.example.com/shop
cartService:
  create: true
  resources:
    requests:
      cpu: 200m
    limits:
      cpu: 300m
      memory: 256Mi
frontend:
  replicaCount: 2
  image:
    repository: registry.example.com/shop/frontend
    tag: "1.0.0"
  resources: {}
"""


def test_helm_umbrella_chart_sections(tmp_path: Path) -> None:
    root = git_repo(
        tmp_path,
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
            "chart/values.yaml": UMBRELLA,
            "chart/templates/cart.yaml": TEMPLATE,
        },
    )
    repo = ManifestRepo(root)
    assert [w.name for w in repo.workloads()] == ["cartService", "frontend"]
    cart = repo.find("cartservice")  # alerts name the service in lower case
    assert repo.effective(cart, "memory").path == "cartService.resources.limits.memory"
    planned = repo.plan(cart, "memory", 2**29)
    assert "-      memory: 256Mi\n+      memory: 512Mi\n" in planned.diff
    apply(root, planned)
    frontend = ManifestRepo(root).find("frontend")
    assert ManifestRepo(root).effective(frontend, "image").value == "registry.example.com/shop/frontend:1.0.0"
    planned = ManifestRepo(root).plan(frontend, "replicas", 4)
    assert planned.changes[0].to == 4 and planned.changes[0].file == "chart/values.yaml"
    apply(root, planned)
    planned = ManifestRepo(root).plan(frontend, "image", "registry.example.com/shop/frontend:1.0.1")
    assert planned.changes[0].to == "registry.example.com/shop/frontend:1.0.1"
    apply(root, planned)


def test_several_values_of_one_workload_as_one_edit(tmp_path: Path) -> None:
    """``plan_all`` plans each value on the files as the ones before left them: both lines of the
    one file change, the diff applies at HEAD, and the tree itself is not written."""
    before = deployment("web", 2, cpu="500m")
    root = git_repo(tmp_path, {"apps/web/deployment.yaml": before})
    repo = ManifestRepo(root)
    planned = repo.plan_all("web", [("cpu", 1.5), ("memory", 2**30)])
    assert [(c.field, c.from_, c.to) for c in planned.changes] == [
        ("cpu", 0.5, 1.5),
        ("memory", 2**29, 2**30),
    ]
    assert (root / "apps/web/deployment.yaml").read_text() == before
    assert set(planned.new_texts) == {"apps/web/deployment.yaml"}
    subprocess.run(["git", "-C", str(root), "apply", "-"], input=planned.diff.encode(), check=True)
    assert (root / "apps/web/deployment.yaml").read_text() == planned.new_texts["apps/web/deployment.yaml"]
    plus = [
        ln[1:].strip() for ln in planned.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")
    ]
    assert plus == ["cpu: 1500m", "memory: 1Gi"]
    assert repo.autoscaler(repo.find("web")) is None


def test_the_autoscaler_of_a_workload_is_read_as_a_copy(tmp_path: Path) -> None:
    root = git_repo(tmp_path, {"web.yaml": deployment("web"), "hpa.yaml": hpa("web", 2, 6)})
    repo = ManifestRepo(root)
    found = repo.autoscaler(repo.find("web"))
    assert found is not None and found["kind"] == "HorizontalPodAutoscaler"
    assert found["spec"]["maxReplicas"] == 6
    found["spec"]["maxReplicas"] = 1
    assert repo.effective("web", "hpa.maxReplicas").value == 6


def test_the_root_opens_the_manifests_as_of_each_fetch(tmp_path: Path) -> None:
    """``current_workspace`` fetches at every call, so a request plans on the newest commit."""
    from bot import wiring

    assert wiring.current_workspace(None) is None
    root = git_repo(tmp_path, {"apps/web/deployment.yaml": deployment("web")})
    fetches: list[Path] = []

    def fetch() -> Path:
        fetches.append(root)
        return root

    opened = wiring.current_workspace(fetch)
    assert opened is not None and fetches == []  # nothing is fetched until a request needs it
    assert [w.name for w in opened().workloads()] == ["web"]
    (root / "apps/api/deployment.yaml").parent.mkdir(parents=True)
    (root / "apps/api/deployment.yaml").write_text(deployment("api"))
    assert [w.name for w in opened().workloads()] == ["api", "web"] and len(fetches) == 2
