"""Where a value is effectively set: JSON 6902 patches, and Helm values files in the order the
Argo CD Application or Flux HelmRelease lists them (autoscaling switched on in a later file)."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.manifests.tree import load_data
from bot.adapters.manifests.workspace import ManifestRepo
from tests.manifests.test_workspace import apply, deployment, git_repo

OPS = (
    "- op: replace\n  path: /spec/template/spec/containers/0/resources/limits/memory\n  value: 1Gi\n"
    "- op: replace\n  path: /spec/replicas\n  value: 4\n"
)


def _kustomize(tmp_path: Path, overlay_patches: str, files: dict[str, str]) -> Path:
    overlay = "resources:\n  - ../../base\n" + overlay_patches
    return git_repo(
        tmp_path,
        {
            "base/deployment.yaml": deployment("api", 1),
            "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
            "overlays/production/kustomization.yaml": overlay,
            **files,
        },
    )


def test_a_json_6902_replace_sets_the_effective_value_and_takes_the_edit(tmp_path: Path) -> None:
    root = _kustomize(
        tmp_path,
        "patches:\n  - path: api-limits.yaml\n    target:\n      kind: Deployment\n      name: api\n",
        {"overlays/production/api-limits.yaml": OPS},
    )
    repo = ManifestRepo(root)
    eff = repo.effective("api", "memory")
    assert (eff.file, eff.value) == ("overlays/production/api-limits.yaml", 2**30)
    assert "JSON 6902 patch" in eff.explanation
    assert repo.effective("api", "replicas").value == 4
    assert repo.effective("api", "cpu").file == "base/deployment.yaml"  # the patch leaves cpu alone
    planned = repo.plan("api", "memory", 2 * 2**30)
    assert planned.changes[0].file == "overlays/production/api-limits.yaml"
    assert (planned.changes[0].from_, planned.changes[0].to) == (2**30, 2 * 2**30)
    assert planned.diff.count("\n-  value") == 1 and "+  value: 2Gi" in planned.diff
    apply(root, planned)
    assert ManifestRepo(root).effective("api", "memory").value == 2 * 2**30


def test_a_patch_for_another_target_or_a_later_patch_decides(tmp_path: Path) -> None:
    merge = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: api\n          resources:\n            limits:\n"
        "              memory: 768Mi\n"
    )
    root = _kustomize(
        tmp_path,
        "patches:\n  - path: other.yaml\n    target:\n      name: web\n"
        "  - path: merge.yaml\n  - path: api-limits.yaml\n    target:\n      name: api\n",
        {
            "overlays/production/other.yaml": OPS.replace("1Gi", "3Gi"),
            "overlays/production/merge.yaml": merge,
            "overlays/production/api-limits.yaml": OPS,
        },
    )
    eff = ManifestRepo(root).effective("api", "memory")
    assert (eff.file, eff.value) == ("overlays/production/api-limits.yaml", 2**30)  # the last one listed


def _chart(values_prod: str) -> dict[str, str]:
    return {
        "charts/shipping/Chart.yaml": "apiVersion: v2\nname: shipping\nversion: 0.1.0\n",
        "charts/shipping/templates/deployment.yaml": "kind: Deployment\n",
        "charts/shipping/values.yaml": (
            "replicaCount: 3\nresources:\n  limits:\n    cpu: 500m\n    memory: 512Mi\n"
            "autoscaling:\n  enabled: false\n  minReplicas: 2\n  maxReplicas: 3\n"
        ),
        "charts/shipping/values-production.yaml": values_prod,
        "charts/shipping/values-staging.yaml": "resources:\n  limits:\n    memory: 2Gi\n",
    }


ARGO = (
    "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shipping\nspec:\n"
    "  source:\n    path: charts/shipping\n    helm:\n      valueFiles:\n        - values.yaml\n"
    "        - values-production.yaml\n"
)


def test_helm_autoscaling_switched_on_in_the_production_values_owns_the_replicas(tmp_path: Path) -> None:
    files = _chart("autoscaling:\n  enabled: true\nresources:\n  limits:\n    memory: 1Gi\n")
    root = git_repo(tmp_path, {**files, "argocd/shipping.yaml": ARGO})
    repo = ManifestRepo(root)
    eff = repo.effective("shipping", "replicas")
    assert (eff.field, eff.file, eff.value) == ("hpa.maxReplicas", "charts/shipping/values.yaml", 3)
    assert "Application/shipping" in eff.explanation
    assert "values.yaml < values-production.yaml" in eff.explanation
    assert repo.effective("shipping", "hpa.maxReplicas").value == 3
    mem = repo.effective("shipping", "memory")
    assert (mem.file, mem.value) == ("charts/shipping/values-production.yaml", 2**30)  # staging is not listed
    planned = repo.plan("shipping", "replicas", 9)
    assert planned.changes[0].field == "hpa.maxReplicas" and planned.changes[0].to == 9
    apply(root, planned)
    assert load_data((root / "charts/shipping/values.yaml").read_text())[0]["autoscaling"]["maxReplicas"] == 9


def test_a_flux_helmrelease_lists_values_files_from_the_source_root(tmp_path: Path) -> None:
    flux = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: shipping\nspec:\n"
        "  chart:\n    spec:\n      chart: ./charts/shipping\n      valuesFiles:\n"
        "        - ./charts/shipping/values.yaml\n        - ./charts/shipping/values-staging.yaml\n"
    )
    root = git_repo(tmp_path, {**_chart("replicaCount: 7\n"), "clusters/prod/shipping.yaml": flux})
    repo = ManifestRepo(root)
    assert repo.effective("shipping", "memory").file == "charts/shipping/values-staging.yaml"
    assert repo.effective("shipping", "replicas").value == 3  # values-production.yaml is not listed
