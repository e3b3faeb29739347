"""The policy scan, rule by rule, on real-shaped manifests in a real checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.git.patch import apply_diff
from bot.adapters.kubeschema import KubernetesSchema
from bot.domain.errors import InvalidInput
from bot.domain.proposal import Action, FieldChange, Proposal
from bot.services.policy_scan import ScanResult, scan_proposal
from bot.settings import ApprovalPolicy
from tests.policy.manifests import DEPLOYMENT, FILES, HPA, KUSTOMIZATION, VALUES, diff

DEPLOY = "apps/checkout/deployment.yaml"
POLICY = ApprovalPolicy(max_replicas=20, max_replica_factor=4, max_cpu_cores=4, max_memory_bytes=8 * 1024**3)
SCHEMA = KubernetesSchema("1.31")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def proposal(
    path: str, before: str, after: str, field: str, to: object = None, action: Action = Action.SCALE
) -> Proposal:
    return Proposal(
        action=action,
        service="checkout",
        changes=[FieldChange(file=path, field=field, to=to)],
        diff=diff(path, before, after),
    )


def scan(p: Proposal, repo: Path | None, policy: ApprovalPolicy = POLICY) -> ScanResult:
    return scan_proposal(p, policy, repo, SCHEMA, apply_diff=apply_diff)


def only(result: ScanResult, *fragments: str) -> None:
    assert not result.ok
    for fragment in fragments:
        assert any(fragment in r for r in result.reasons), (fragment, result.reasons)


def test_a_sound_scale_up_passes_with_schema_validation(checkout: Path) -> None:
    result = scan(
        proposal(DEPLOY, DEPLOYMENT, DEPLOYMENT.replace("replicas: 3", "replicas: 6"), "replicas"), checkout
    )
    assert result.ok, result.reasons
    assert result.notes == ()  # schema found and valid; nothing degraded
    assert (checkout / DEPLOY).read_text() == DEPLOYMENT  # the checkout is never written


def test_a_checkout_is_never_scanned_without_applying_the_diff(checkout: Path) -> None:
    """Reading the diff text alone would miss what the whole file becomes: a wiring mistake."""
    change = proposal(DEPLOY, DEPLOYMENT, DEPLOYMENT.replace("replicas: 3", "replicas: 6"), "replicas")
    with pytest.raises(ValueError, match="needs apply_diff"):
        scan_proposal(change, POLICY, checkout, SCHEMA)


@pytest.mark.parametrize(
    ("replicas", "expected"),
    [
        ("0", "scaling to zero is never proposed"),
        ("13", "more than policy.max_replica_factor (4) times"),  # 3 -> 13 > 12
        ("25", "above policy.max_replicas (20)"),
        ('"six"', "must be an integer"),
    ],
)
def test_replica_bounds(checkout: Path, replicas: str, expected: str) -> None:
    after = DEPLOYMENT.replace("replicas: 3", f"replicas: {replicas}")
    only(scan(proposal(DEPLOY, DEPLOYMENT, after, "replicas"), checkout), expected)


def test_hpa_bounds(checkout: Path) -> None:
    path = "apps/cart/hpa.yaml"
    ok = scan(
        proposal(path, HPA, HPA.replace("maxReplicas: 6", "maxReplicas: 12"), "hpa.maxReplicas"), checkout
    )
    assert ok.ok, ok.reasons
    zero = proposal(path, HPA, HPA.replace("minReplicas: 2", "minReplicas: 0"), "hpa.minReplicas")
    only(scan(zero, checkout), "spec.minReplicas would be 0")


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        ('cpu: "1"', 'cpu: "6"', "cpu", "above policy.max_cpu_cores (4)"),
        ("memory: 512Mi", "memory: 16Gi", "memory", "above policy.max_memory_bytes"),
        ("memory: 512Mi", "memory: 200Mi", "memory", "memory limit 200Mi is below its request 256Mi"),
        ("cpu: 250m", "cpu: 1500m", "cpu_request", "cpu limit 1 is below its request 1500m"),
        ('cpu: "1"', "cpu: lots", "cpu", "is not a valid quantity"),
    ],
)
def test_resource_bounds_and_limits_above_requests(
    checkout: Path, old: str, new: str, field: str, expected: str
) -> None:
    only(scan(proposal(DEPLOY, DEPLOYMENT, DEPLOYMENT.replace(old, new), field), checkout), expected)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("registry.example.com/shop/checkout:latest", "uses the mutable :latest tag"),
        ("registry.example.com/shop/checkout", "has no tag"),
        ("localhost:5000/checkout", "has no tag"),  # a registry port is not a tag
    ],
)
def test_mutable_images_are_refused(checkout: Path, image: str, expected: str) -> None:
    after = DEPLOYMENT.replace("registry.example.com/shop/checkout:1.4.2", image)
    only(scan(proposal(DEPLOY, DEPLOYMENT, after, "image", image, Action.REVERT), checkout), expected)


def test_digests_and_pinned_tags_pass(checkout: Path) -> None:
    pinned = "registry.example.com/shop/checkout@sha256:" + "ab" * 32
    after = DEPLOYMENT.replace("registry.example.com/shop/checkout:1.4.2", pinned)
    result = scan(proposal(DEPLOY, DEPLOYMENT, after, "image", pinned, Action.REVERT), checkout)
    assert result.ok, result.reasons


def test_privilege_may_not_be_introduced(checkout: Path) -> None:
    security = (
        "          securityContext:\n            privileged: true\n"
        "            capabilities:\n              add: [NET_ADMIN]\n"
    )
    after = DEPLOYMENT.replace("          resources:\n", security + "          resources:\n")
    result = scan(proposal(DEPLOY, DEPLOYMENT, after, "replicas", action=Action.REVERT), checkout)
    only(result, "introduces privileged container", "introduces added capability NET_ADMIN")


def test_existing_privilege_does_not_block_an_unrelated_change(checkout: Path) -> None:
    privileged = DEPLOYMENT.replace(
        "          resources:\n",
        "          securityContext:\n            privileged: true\n          resources:\n",
    )
    (checkout / DEPLOY).write_text(privileged)
    after = privileged.replace("replicas: 3", "replicas: 4")
    assert scan(proposal(DEPLOY, privileged, after, "replicas"), checkout).ok


def test_schema_errors_and_fields_outside_the_allow_list(checkout: Path) -> None:
    typo = DEPLOYMENT.replace("replicas: 3", "replicas: 3\n  replica: 4")
    only(
        scan(proposal(DEPLOY, DEPLOYMENT, typo, "replicas"), checkout),
        "is not a valid Deployment",
        "spec.replica is outside",
    )
    env = DEPLOYMENT.replace("value: info", "value: debug")
    only(
        scan(proposal(DEPLOY, DEPLOYMENT, env, "replicas"), checkout),
        "env.*.value is outside the allowed fields",
    )
    revert = scan(proposal(DEPLOY, DEPLOYMENT, env, "env", action=Action.REVERT), checkout)
    assert revert.ok, revert.reasons  # a revert restores reviewed content: any field, other rules apply


def test_declared_changes_must_match_the_diff(checkout: Path) -> None:
    p = proposal(DEPLOY, DEPLOYMENT, DEPLOYMENT.replace("replicas: 3", "replicas: 4"), "securityContext")
    only(scan(p, checkout), "field 'securityContext' is not one Tugboat may change")
    other = p.model_copy(update={"changes": [FieldChange(file="apps/cart/hpa.yaml", field="replicas")]})
    only(scan(other, checkout), "declares a change to apps/cart/hpa.yaml", f"the diff changes {DEPLOY}")


@pytest.mark.parametrize("bad", ["../outside.yaml", "/etc/passwd", "apps/../../x.yaml", ".git/config"])
def test_paths_must_stay_inside_the_repository(checkout: Path, bad: str) -> None:
    p = proposal(bad, "a: 1\n", "a: 2\n", "replicas").model_copy(
        update={"changes": [FieldChange(file=bad, field="replicas")]}
    )
    result = scan(p, checkout)
    only(result, "only relative paths" if bad.startswith("/") else "are not allowed")


def test_symlinks_out_of_the_repository_are_refused(checkout: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "deployment.yaml").write_text(DEPLOYMENT)
    (checkout / "apps" / "linked").symlink_to(outside)
    path = "apps/linked/deployment.yaml"
    result = scan(
        proposal(path, DEPLOYMENT, DEPLOYMENT.replace("replicas: 3", "replicas: 4"), "replicas"), checkout
    )
    only(result, "apps/linked is a symbolic link")
    assert (outside / "deployment.yaml").read_text() == DEPLOYMENT


def test_kustomization_is_checked_structurally(checkout: Path) -> None:
    path = "overlays/prod/payments/kustomization.yaml"
    ok = scan(
        proposal(path, KUSTOMIZATION, KUSTOMIZATION.replace("count: 2", "count: 4"), "replicas"), checkout
    )
    assert ok.ok, ok.reasons
    only(
        scan(
            proposal(path, KUSTOMIZATION, KUSTOMIZATION.replace("count: 2", "count: 0"), "replicas"), checkout
        ),
        "would be 0",
    )
    latest = KUSTOMIZATION.replace("newTag: 2.0.1", "newTag: latest")
    only(scan(proposal(path, KUSTOMIZATION, latest, "image"), checkout), "introduces image tag 'latest'")
    unknown = KUSTOMIZATION + "replica:\n  - name: payments\n"
    only(scan(proposal(path, KUSTOMIZATION, unknown, "replicas"), checkout), "unknown key 'replica'")


def test_helm_values_are_checked_structurally(checkout: Path) -> None:
    path = "charts/search/values.yaml"
    ok = scan(
        proposal(path, VALUES, VALUES.replace("replicaCount: 2", "replicaCount: 5"), "replicas"), checkout
    )
    assert ok.ok, ok.reasons
    big = VALUES.replace("memory: 256Mi", "memory: 64Gi")
    only(scan(proposal(path, VALUES, big, "memory"), checkout), "above policy.max_memory_bytes")
    only(
        scan(proposal(path, VALUES, VALUES.replace("tag: 3.2.0", "tag: latest"), "image"), checkout),
        "image tag 'latest'",
    )
    only(
        scan(
            proposal(path, VALUES, VALUES.replace("replicaCount: 2", "replicaCount: [2"), "replicas"),
            checkout,
        ),
        "not valid YAML",
    )


def test_a_diff_that_does_not_apply_is_refused(checkout: Path) -> None:
    stale = DEPLOYMENT.replace("replicas: 3", "replicas: 5")
    only(
        scan(proposal(DEPLOY, stale, stale.replace("replicas: 5", "replicas: 6"), "replicas"), checkout),
        "does not apply",
    )


def test_without_a_checkout_the_diff_text_is_checked_and_the_result_says_so() -> None:
    p = proposal(DEPLOY, DEPLOYMENT, DEPLOYMENT.replace("replicas: 3", "replicas: 6"), "replicas", 6)
    p.changes[0].from_ = 3
    result = scan(p, None)
    assert result.ok and "only the diff text and the declared changes" in result.notes[0]
    p.changes[0].to = 30
    only(scan(p, None), "above policy.max_replicas (20)")
    privileged = DEPLOYMENT.replace(
        "          resources:\n",
        "          securityContext:\n            privileged: true\n          resources:\n",
    )
    only(scan(proposal(DEPLOY, DEPLOYMENT, privileged, "replicas", action=Action.REVERT), None), "privileged")
    latest = DEPLOYMENT.replace(":1.4.2", ":latest")
    only(
        scan(proposal(DEPLOY, DEPLOYMENT, latest, "image", action=Action.REVERT), None), "mutable :latest tag"
    )


def test_unknown_kinds_and_versions() -> None:
    with pytest.raises(InvalidInput, match="no bundled schemas"):
        KubernetesSchema("1.12")
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "x"}}
    assert SCHEMA.problems(rollout) is None


def test_a_file_that_was_already_broken_is_never_judged_from_the_diff_text(checkout: Path) -> None:
    broken = DEPLOYMENT.replace("        - name: checkout\n", "- name: checkout\n")  # invalid YAML
    (checkout / DEPLOY).write_text(broken)
    still_broken = scan(
        proposal(DEPLOY, broken, broken.replace("replicas: 3", "replicas: 6"), "replicas"), checkout
    )
    only(still_broken, "is not valid YAML after the change")
    repaired = DEPLOYMENT.replace('cpu: "1"', 'cpu: "2"')
    only(scan(proposal(DEPLOY, broken, repaired, "cpu"), checkout), "was not valid YAML before the change")
    valid_before = scan(proposal(DEPLOY, DEPLOYMENT, broken, "replicas"), checkout)  # breaking it is refused
    only(valid_before, "does not apply")


def test_a_revert_of_a_broken_file_is_checked_in_full(checkout: Path) -> None:
    broken = DEPLOYMENT.replace("        - name: checkout\n", "- name: checkout\n")
    (checkout / DEPLOY).write_text(broken)
    low = DEPLOYMENT.replace("memory: 512Mi", "memory: 128Mi")  # below the 256Mi request
    reverted = scan(proposal(DEPLOY, broken, low, "memory", action=Action.REVERT), checkout)
    only(reverted, "memory limit 128Mi is below its request 256Mi")
    assert any("whole resulting file was checked" in n for n in reverted.notes)
    assert not any("was not valid YAML before" in r for r in reverted.reasons)  # reverts may repair
    assert scan(proposal(DEPLOY, broken, DEPLOYMENT, "memory", action=Action.REVERT), checkout).ok


def test_moved_lines_are_not_introduced_without_a_checkout() -> None:
    # A container list re-indented by the edit: its untagged image moves, it is not introduced.
    untagged = DEPLOYMENT.replace(":1.4.2", "")
    broken = untagged.replace("        - name: checkout\n          image:", "- name: checkout\n  image:")
    repaired = untagged.replace('cpu: "1"', 'cpu: "2"')
    result = scan(proposal(DEPLOY, broken, repaired, "cpu"), None)
    assert result.ok, result.reasons
    added = untagged.replace("checkout:1.4.2", "checkout").replace(
        "registry.example.com/shop/checkout", "busybox"
    )
    only(scan(proposal(DEPLOY, broken, added, "cpu"), None), "the diff sets image 'busybox' has no tag")
