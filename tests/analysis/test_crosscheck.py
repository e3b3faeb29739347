"""The manifests are checked against what kube-state-metrics reports before a diff is drafted."""

from __future__ import annotations

from bot.analysis.crosscheck import disagreement, no_op

GiB = 2**30


def test_files_that_resolve_to_another_value_than_the_cluster_runs_are_named() -> None:
    # the base says 512Mi while a patch the files do not show (and the cluster) say 1Gi
    why = disagreement("memory", GiB // 2, GiB, "base/api/deployment.yaml")
    assert why is not None and "512 MiB" in why and "1.00 GiB" in why and "no diff" in why
    assert disagreement("replicas", 3, 4, "apps/api/deployment.yaml") is not None


def test_agreement_within_rounding_and_unknowns_pass() -> None:
    assert disagreement("cpu", 0.3, 0.3000001, "f") is None
    assert disagreement("memory", 1024 * 2**20, GiB, "f") is None
    assert disagreement("hpa.maxReplicas", 6, 6, "f") is None
    assert disagreement("cpu", None, 0.5, "f") is None  # the files set no limit: nothing to compare
    assert disagreement("cpu", 0.5, float("nan"), "f") is None


def test_a_change_to_the_same_value_is_a_no_op() -> None:
    assert no_op("memory", GiB, GiB) is not None
    assert no_op("memory", GiB // 2, GiB) is None
