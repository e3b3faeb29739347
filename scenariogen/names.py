"""Name pools and identifier shapes (pod hashes, tags, timestamps) for generated incidents."""

from __future__ import annotations

import random
from datetime import UTC, datetime

SERVICES = [
    "accounts",
    "ads",
    "analytics",
    "api-gateway",
    "auth",
    "billing",
    "booking",
    "cart",
    "catalog",
    "checkout",
    "comments",
    "currency",
    "delivery",
    "discounts",
    "email",
    "feed",
    "fraud-check",
    "fulfillment",
    "geo",
    "identity",
    "images",
    "inventory",
    "invoices",
    "ledger",
    "listings",
    "loyalty",
    "media",
    "messaging",
    "notifications",
    "orders",
    "payments",
    "pricing",
    "profile",
    "quotes",
    "ratings",
    "recommendations",
    "refunds",
    "reviews",
    "risk",
    "routing",
    "search",
    "sessions",
    "settlement",
    "shipping",
    "storefront",
    "subscriptions",
    "tax",
    "tickets",
    "tracking",
    "uploads",
    "users",
    "vouchers",
    "wallet",
    "warehouse",
    "wishlist",
]
ENTRY_SERVICES = ["web", "gateway", "edge-api", "frontend", "bff", "public-api", "ingress-api", "portal"]
NAMESPACES = [
    "shop",
    "core",
    "api",
    "payments-prod",
    "prod",
    "commerce",
    "platform",
    "checkout-prod",
    "retail",
    "backend",
    "apps",
    "production",
    "svc",
    "market",
    "travel-prod",
    "fintech",
]
TEAMS = ["sre", "platform", "commerce", "payments", "growth", "core-infra", "checkout-team"]
REGISTRIES = [
    "registry.example.com/{ns}",
    "ghcr.io/acme",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "europe-docker.pkg.dev/acme-prod/apps",
    "quay.io/acme",
]
HUMANS = [
    ("Alice Martin", "alice@example.com"),
    ("Bogdan Ionescu", "bogdan@example.com"),
    ("Chen Wei", "chen.wei@example.com"),
    ("Dana Cohen", "dana@example.com"),
    ("Emeka Obi", "emeka@example.com"),
    ("Fatima Zahra", "fatima@example.com"),
]
BOTS = [
    ("deploy-bot", "deploy-bot@example.com"),
    ("renovate[bot]", "bot@renovateapp.com"),
    ("argocd-image-updater", "noreply@argoproj.io"),
    ("flux", "flux@example.com"),
]
SIDECARS = ["istio-proxy", "log-shipper", "linkerd-proxy", "envoy", "otel-collector"]
PATHS = [
    "/api/items",
    "/api/cart",
    "/api/orders",
    "/api/users/me",
    "/api/checkout",
    "/healthz",
    "/api/search",
    "/api/v2/quotes",
    "/internal/sync",
]

# Kubernetes' rand.String alphabet: no vowels, no 0/1/3, so generated names never spell words.
_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def k8s_hash(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_K8S_ALPHABET) for _ in range(n))


def replicaset_name(rng: random.Random, deployment: str) -> str:
    return f"{deployment}-{k8s_hash(rng, rng.choice([9, 10, 10, 10]))}"


def pod_name(rng: random.Random, replicaset: str) -> str:
    return f"{replicaset}-{k8s_hash(rng, 5)}"


def semver(rng: random.Random) -> str:
    return f"{rng.randint(0, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"


def next_version(rng: random.Random, version: str) -> str:
    major, minor, patch = (int(x) for x in version.split("."))
    r = rng.random()
    if r < 0.5:
        return f"{major}.{minor}.{patch + 1}"
    if r < 0.9:
        return f"{major}.{minor + 1}.0"
    return f"{major + 1}.0.0"


def prev_version(rng: random.Random, version: str) -> str:
    major, minor, patch = (int(x) for x in version.split("."))
    if patch > 0 and rng.random() < 0.6:
        return f"{major}.{minor}.{patch - rng.randint(1, patch)}"
    if minor > 0:
        return f"{major}.{minor - 1}.{rng.randint(0, 9)}"
    return f"{max(0, major - 1)}.{rng.randint(1, 20)}.{rng.randint(0, 9)}"


def rfc3339(t: float) -> str:
    dt = datetime.fromtimestamp(t, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def pick_services(rng: random.Random, n: int) -> list[str]:
    """An entry service (the public edge) followed by n-1 backends; sometimes two share a prefix
    (orders, orders-api), which catches pod-name regexes that forget the hash suffix."""
    picked = [rng.choice(ENTRY_SERVICES), *rng.sample(SERVICES, n - 1)]
    if n >= 4 and rng.random() < 0.3:
        i = rng.randrange(2, n)
        picked[i] = f"{picked[rng.randrange(1, i)]}-{rng.choice(['api', 'worker', 'v2', 'proxy', 'sync'])}"
    return picked
