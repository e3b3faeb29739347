"""Sample investigation reports and a planted-secret corpus for the assistant's tests."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.proposal import Action, FieldChange, Proposal
from bot.domain.report import CauseKind, Evidence, InvestigationReport, RootCause, SourceStatus

AT = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)

# One of each kind the redactor must catch; none may reach a request body.
PLANTED_SECRETS = {
    "aws_key": "AKIAQ3EGV7NXR5TYW2MZ",
    "github_token": "ghp_R8x2Lq9Vt4Zp7Kw1Nc5Hb3Jd6Fs0Gm2Ya8Ue",
    "github_pat": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",
    "slack_bot": "xoxb-1234567890123-9876543210987-AbCdEfGhIjKlMnOpQrStUvWx",
    "slack_hook": "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/zYxWvUtSrQpOnMlKjIhGfEdC",
    "stripe": "sk_live_51HqLyjWDarjtT1zdp7dcXeq8",
    "openai": "sk-proj-Qw3rTy7UiOp9AsDfGhJkLzXcVbNm1234567890ab",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaGVja291dCIsImlhdCI6MTcwMDAwMDAwMH0"
    ".Xk3v9Qb2Lr8Zt5Wn1Yp4Hs7Jd0Fc6Gm",
    "bearer": "Zm9vYmFyLWJlYXJlci10b2tlbi1zZWNyZXQ",
    "db_password": "Tr0ub4dor-and-3",
    "json_secret": "hunter2-prod-ONLY",
    "gcp": "AIzaSyD4kF8sQ2mN7pL0vX3cR9tB6wE1yH5uJ0o",
}

LOG_LINES_WITH_SECRETS = [
    f'level=error msg="payment call failed" auth="Bearer {PLANTED_SECRETS["bearer"]}"',
    f'level=error msg="db connect" dsn=postgres://checkout:{PLANTED_SECRETS["db_password"]}@db:5432/shop',
    f'{{"level":"error","msg":"config dump","client_secret":"{PLANTED_SECRETS["json_secret"]}"}}',
    f'level=warn msg="using key" aws={PLANTED_SECRETS["aws_key"]} gcp={PLANTED_SECRETS["gcp"]}',
    f'level=error msg="notify failed" url={PLANTED_SECRETS["slack_hook"]}'
    f" token={PLANTED_SECRETS['slack_bot']}",
]


def cpu_limit_report(*, with_secrets: bool = False, injection: str = "") -> InvestigationReport:
    """checkout throttled at its CPU limit after a traffic rise; proposal: 3 -> 6 replicas."""
    log_obs = "412 'level=error msg=\"upstream timeout\" duration=<*>' lines since 10:02, none before"
    if with_secrets:
        log_obs += " sample: " + LOG_LINES_WITH_SECRETS[0] + " " + PLANTED_SECRETS["github_token"]
    commit_subject = "checkout: bump image to v2.14.1" + (f" {injection}" if injection else "")
    evidence = [
        Evidence(
            id="E1",
            source="prometheus",
            observation="CPU usage of checkout pods at 97% of the 2-core limit since 10:02 (baseline 41%)",
            query='sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="shop"}[5m]))',
        ),
        Evidence(
            id="E2",
            source="prometheus",
            observation="CPU throttling ratio 0.62 since 10:03 (baseline 0.02)",
            query='sum(rate(container_cpu_cfs_throttled_periods_total{namespace="shop"}[5m]))',
        ),
        Evidence(
            id="E3",
            source="prometheus",
            observation="request rate 2.3x baseline (180 -> 415 req/s) from 10:01",
        ),
        Evidence(id="E4", source="logs", observation=log_obs),
        Evidence(
            id="E5",
            source="git",
            observation=f"no resource change to checkout in the last 24h; last commit: {commit_subject}",
            commit="3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        ),
    ]
    proposal = Proposal(
        id="p-cpu-checkout",
        action=Action.SCALE,
        service="checkout",
        namespace="shop",
        changes=[
            FieldChange.model_validate(
                {
                    "file": "apps/checkout/deployment.yaml",
                    "field": "replicas",
                    "from": 3,
                    "to": 6,
                    "resource": "Deployment/checkout",
                }
            )
        ],
        diff="--- a/apps/checkout/deployment.yaml\n+++ b/apps/checkout/deployment.yaml\n"
        "-  replicas: 3\n+  replicas: 6\n",
        title="Scale checkout from 3 to 6 replicas",
    )
    summary = "checkout p99 latency alert: CPU saturation at the limit under a 2.3x traffic rise"
    if injection:
        summary += f" (annotation: {injection})"
    return InvestigationReport(
        alert_name="CheckoutHighLatency",
        service="checkout",
        namespace="shop",
        at=AT,
        summary=summary,
        root_causes=[
            RootCause(
                kind=CauseKind.CPU_LIMIT,
                service="checkout",
                namespace="shop",
                confidence=0.84,
                evidence=evidence[:2] + evidence[3:4],
            ),
            RootCause(
                kind=CauseKind.TRAFFIC_SURGE,
                service="checkout",
                namespace="shop",
                confidence=0.55,
                evidence=[evidence[2]],
            ),
            RootCause(
                kind=CauseKind.BAD_DEPLOY,
                service="checkout",
                namespace="shop",
                confidence=0.1,
                commit="3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
                evidence=[evidence[4]],
            ),
        ],
        proposal=proposal,
        sources=[
            SourceStatus(name="prometheus", ok=True),
            SourceStatus(name="logs", ok=True),
            SourceStatus(name="git", ok=True),
        ],
    )


def memory_report() -> InvestigationReport:
    """cart OOMKilled at its memory limit; proposal: memory limit 512Mi -> 768Mi."""
    evidence = [
        Evidence(
            id="E1",
            source="prometheus",
            observation="cart working set at 99% of the 512Mi limit before each restart",
        ),
        Evidence(
            id="E2", source="prometheus", observation="7 restarts in 1h, last termination reason OOMKilled"
        ),
        Evidence(
            id="E3",
            source="logs",
            observation="'fatal: out of memory allocating <*> bytes' 7 lines since 09:40",
        ),
    ]
    return InvestigationReport(
        alert_name="KubePodCrashLooping",
        service="cart",
        namespace="shop",
        at=AT,
        summary="cart crash-looping: OOMKilled at its 512Mi memory limit",
        root_causes=[
            RootCause(
                kind=CauseKind.MEMORY_LIMIT,
                service="cart",
                namespace="shop",
                confidence=0.9,
                evidence=evidence,
            )
        ],
        proposal=Proposal(
            id="p-mem-cart",
            action=Action.SET_MEMORY_LIMIT,
            service="cart",
            namespace="shop",
            changes=[
                FieldChange(
                    file="apps/cart/deployment.yaml",
                    field="memory",
                    **{"from": 536870912},
                    to=805306368,
                    resource="Deployment/cart",
                    container="cart",
                )
            ],
            diff="-            memory: 512Mi\n+            memory: 768Mi\n",
        ),
    )


SAMPLE_REPORTS = {"cpu_limit": cpu_limit_report, "memory_limit": memory_report}
