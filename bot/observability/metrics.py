"""Prometheus metrics about Tugboat itself, in a registry of its own (served at ``/metrics``).

A private registry, not the process-global one: two apps in one test process, or a library
embedding Tugboat, never collide on metric names.
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.domain.proposal import ProposalState
from bot.ports.store import Store

REGISTRY = CollectorRegistry(auto_describe=True)

ALERTS_RECEIVED = Counter(
    "tugboat_alerts_received", "Alertmanager notifications received", ["status"], registry=REGISTRY
)
ALERTS_DUPLICATE = Counter(
    "tugboat_alerts_duplicate", "Notifications dropped as exact duplicates", registry=REGISTRY
)
ALERTS_REJECTED = Counter(
    "tugboat_alerts_rejected",
    "Webhook bodies refused (malformed or unauthorised)",
    ["reason"],
    registry=REGISTRY,
)
INVESTIGATIONS = Counter("tugboat_investigations", "Investigations run", ["outcome"], registry=REGISTRY)
INVESTIGATION_SECONDS = Histogram(
    "tugboat_investigation_duration_seconds",
    "Time to investigate one alert group",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120),
    registry=REGISTRY,
)
PROPOSALS = Gauge("tugboat_proposals", "Proposals by state", ["state"], registry=REGISTRY)
MERGES = Counter("tugboat_merges", "Proposals merged after approval", registry=REGISTRY)
SLACK_ERRORS = Counter(
    "tugboat_slack_errors", "Slack Web API calls that failed", ["method"], registry=REGISTRY
)
SLACK_REQUESTS = Counter(
    "tugboat_slack_requests", "Requests from Slack by outcome", ["outcome"], registry=REGISTRY
)
SLACK_UNAUTHENTICATED = Counter(
    "tugboat_slack_unauthenticated_requests",
    "Requests to /slack/events refused before any handler ran: unsigned, stale timestamp "
    "(outside the 5-minute window) or bad signature",
    ["reason"],
    registry=REGISTRY,
)


SLACK_ACK_SECONDS = Histogram(
    "tugboat_slack_ack_seconds",
    "From a Slack request reaching /slack/events to its acknowledgement",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 3),
    registry=REGISTRY,
)


MODEL_CALLS = Counter("tugboat_model_calls", "LLM calls by outcome", ["outcome"], registry=REGISTRY)
MODEL_TOKENS = Counter("tugboat_model_tokens", "LLM tokens by kind", ["kind"], registry=REGISTRY)
MODEL_COST = Counter("tugboat_model_cost_usd", "LLM cost in US dollars, where known", registry=REGISTRY)
GITHUB_ERRORS = Counter(
    "tugboat_github_errors", "GitHub API calls that failed", ["status"], registry=REGISTRY
)


def refresh_proposal_gauge(store: Store) -> None:
    counts = Tally(p.state.value for p in store.list_proposals())
    for state in ProposalState:
        PROPOSALS.labels(state=state.value).set(counts.get(state.value, 0))


def exposition() -> bytes:
    return generate_latest(REGISTRY)
