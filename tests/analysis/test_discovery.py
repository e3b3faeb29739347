"""Metric discovery across RED conventions, and workload resolution across label conventions."""

from __future__ import annotations

import pytest

from bot.analysis import discovery as d
from bot.analysis.workloads import Ownership, resolve_alert_workload, strip_pod_hash

WORKLOADS = {"web", "auth", "orders"}


@pytest.mark.parametrize(
    ("names", "server", "client"),
    [
        (
            [
                "http_requests_total",
                "http_request_duration_seconds_bucket",
                "http_client_requests_total",
                "up",
            ],
            "http_requests_total",
            "http_client_requests_total",
        ),
        (
            [
                "http_server_request_duration_seconds_count",
                "http_server_request_duration_seconds_bucket",
                "http_client_request_duration_seconds_count",
            ],
            "http_server_request_duration_seconds_count",
            "http_client_request_duration_seconds_count",
        ),
        (["grpc_server_handled_total", "grpc_client_handled_total"], "grpc_server_handled_total", None),
        (  # Micrometer (Spring Boot)
            ["http_server_requests_seconds_count", "http_server_requests_seconds_bucket"],
            "http_server_requests_seconds_count",
            None,
        ),
    ],
)
def test_request_metrics_are_found_by_shape(names: list[str], server: str, client: str | None) -> None:
    assert d.server_candidates(names)[0] == server
    assert (d.client_candidates(names) or [None])[0] == client


def test_histogram_belongs_to_its_counter() -> None:
    names = [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_client_duration_seconds_bucket",
    ]
    assert d.histogram_for("http_requests_total", names) == "http_request_duration_seconds_bucket"
    otel = ["http_server_request_duration_seconds_count", "http_server_request_duration_seconds_bucket"]
    assert d.histogram_for(otel[0], otel) == otel[1]


@pytest.mark.parametrize("label", ["code", "status", "status_code", "http_response_status_code"])
def test_status_label_is_recognised_by_name_and_values(label: str) -> None:
    sets = [
        {"service": "web", label: "200", "pod": "web-1"},
        {"service": "web", label: "503", "pod": "web-1"},
    ]
    assert d.status_label(sets) == label


def test_workload_label_is_the_one_whose_values_are_workloads() -> None:
    sets = [
        {"app": "web", "job": "shop/web", "pod": "web-abc12-xyz12", "instance": "10.0.0.1:8080"},
        {"app": "auth", "job": "shop/auth", "pod": "auth-abc12-xyz12", "instance": "10.0.0.2:8080"},
    ]
    assert d.workload_label(sets, WORKLOADS) == "app"
    jobs_only = [{"job": "shop/web", "pod": "web-1"}, {"job": "shop/orders", "pod": "orders-1"}]
    assert d.workload_label(jobs_only, WORKLOADS) == "job"


def test_client_metric_separates_caller_from_peer() -> None:
    sets = [
        {"service": "web", "job": "web", "server_address": "auth", "http_response_status_code": "200"},
        {"service": "web", "job": "web", "server_address": "orders", "http_response_status_code": "503"},
        {"service": "auth", "job": "auth", "server_address": "orders", "http_response_status_code": "200"},
    ]
    caller = d.caller_label(sets, WORKLOADS)
    assert caller == "service"
    assert d.peer_label(sets, WORKLOADS, caller) == "server_address"


def test_pod_names_lose_their_hashes() -> None:
    assert strip_pod_hash("checkout-rltrwg2jjq-cjfhd") == "checkout"
    assert strip_pod_hash("edge-api-7c9d8f6b5d-abcde") == "edge-api"
    assert strip_pod_hash("kafka-2") == "kafka"
    assert strip_pod_hash("edge-api-7c9d8f6b5d-abcde", {"edge-api", "edge"}) == "edge-api"


@pytest.mark.parametrize(
    ("labels", "want"),
    [
        ({"service": "auth"}, "auth"),
        ({"app": "web"}, "web"),
        ({"deployment": "orders"}, "orders"),
        ({"app.kubernetes.io/name": "orders"}, "orders"),
        ({"job": "shop/web"}, "web"),
        ({"pod": "ledger-vplfhcfg22-4bjms", "container": "ledger"}, "ledger"),
        ({"pod": "pay-6d5f-77zz", "container": "main"}, "payments-api"),  # only the owner chain knows
    ],
)
def test_alert_labels_resolve_to_the_workload(labels: dict[str, str], want: str) -> None:
    own = Ownership(
        pod_owner={"pay-6d5f-77zz": ("ReplicaSet", "payments-api-6d5f")},
        replicaset_owner={"payments-api-6d5f": "payments-api"},
        known=WORKLOADS | {"ledger", "payments-api"},
    )
    assert resolve_alert_workload(labels, own) == want
