"""The sections of ``Settings``, one model each, in the order the reference table lists them.

Each section is a plain model holding its fields; ``Settings`` (``bot.settings``) inherits them
all, so every field keeps its flat name (``TUGBOAT_<FIELD>``, or its YAML key). A new setting
goes in the section of what it configures; one that needs another section's value to be checked
is validated on ``Settings``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr

from bot.domain.policy import ApprovalPolicy


def _std(name: str) -> Any:
    """Accept the ecosystem's standard variable name, and the field name in YAML."""
    return AliasChoices(name, name.lower())


class Route(BaseModel):
    """Alerts whose label ``label`` equals ``value`` go to ``channel``."""

    label: str = "team"
    value: str
    channel: str


class EvidenceSettings(BaseModel):
    """Evidence sources."""

    prometheus_url: str | None = Field(default=None, description="Prometheus base URL")
    prometheus_timeout_s: float = Field(
        default=10.0, gt=0, description="seconds one attempt of a Prometheus query may wait"
    )
    prometheus_headers: dict[str, str] = Field(default_factory=dict, description="e.g. Authorization")
    grafana_url: str | None = Field(default=None, description="used for links in PRs")
    loki_url: str | None = Field(
        default=None, description="Loki base URL (logs); without it, --logs-file or no logs"
    )
    loki_timeout_s: float = Field(default=10.0, gt=0, description="seconds one Loki request may wait")
    repo: str | None = Field(
        default=None,
        description="GitOps repository: a URL (https://, ssh://, git@host:path, file://), "
        "a bare repository or a clone (which stands for its upstream)",
    )
    repo_default_branch: str = Field(
        default="main", description="the branch GitOps deploys from; proposals merge into it"
    )
    repo_ssh_key_file: str | None = Field(
        default=None, description="SSH private key for ssh:// and git@host: remotes (HTTPS uses GitHub's)"
    )
    repo_ssh_known_hosts_file: str | None = Field(
        default=None, description="known_hosts for SSH remotes; set, host keys are checked strictly"
    )
    repo_push_attempts: int = Field(
        default=5, ge=1, le=20, description="a push that loses a race is fetched and retried this often"
    )
    data_dir: str = Field(
        default=".tugboat", description="Tugboat's own files: its working clone of the GitOps repository"
    )
    lookback_minutes: int = Field(default=120, ge=10, description="history an investigation reads")
    history_minutes: int = Field(
        default=240,
        ge=0,
        description="read back this far where Prometheus has the series (a baseline before any warm-up)",
    )


class DeadlineSettings(BaseModel):
    """Deadlines: total wall-clock budgets, every attempt and wait included (docs/operations.md)."""

    investigation_budget_s: float = Field(
        default=20.0, gt=0, description="an investigation ends with what it has after this many seconds"
    )
    prometheus_budget_s: float = Field(
        default=10.0, gt=0, description="seconds one Prometheus query may take, retries included"
    )
    loki_budget_s: float = Field(
        default=15.0, gt=0, description="seconds one log query may take, all pages included"
    )
    git_budget_s: float = Field(
        default=15.0, gt=0, description="seconds one git history read (commits, a diff, a revert) may take"
    )
    llm_answer_budget_s: float = Field(
        default=20.0, gt=0, description="seconds one model answer may take, all calls and retries included"
    )


class CapacitySettings(BaseModel):
    """Capacity forecasts and rightsizing (docs/capacity.md)."""

    capacity_target_utilisation: float = Field(default=0.7, gt=0, le=1, description="of the CPU limit")
    capacity_horizon_hours: float = Field(
        default=24.0, gt=0, le=24 * 14, description="how far ahead capacity forecasts look"
    )
    capacity_lookback_hours: float = Field(default=168.0, ge=6, description="history a forecast reads")
    capacity_cron: str = Field(
        default="0 */6 * * *", description="when serve runs the capacity check (cron; empty: never)"
    )
    capacity_level: int = Field(default=80, gt=0, lt=100, description="prediction interval, percent")
    rightsize_lookback_hours: float = Field(
        default=168.0, ge=1, description="usage history rightsizing reads"
    )
    rightsize_min_data_hours: float = Field(default=24.0, gt=0, description="refuse with less history")
    rightsize_cpu_percentile: float = Field(
        default=95.0, gt=0, le=100, description="CPU request = this percentile of per-pod usage"
    )
    rightsize_memory_buffer: float = Field(default=0.15, ge=0, description="above the peak working set")


class AnomalyWatchSettings(BaseModel):
    """Early anomaly warnings: the scheduled anomaly watch (docs/capacity.md)."""

    anomaly_cron: str = Field(
        default="*/10 * * * *",
        description="when serve looks for workloads leaving their usual range (cron; empty: never)",
    )
    anomaly_lookback_hours: float = Field(
        default=168.0, ge=6, le=24 * 28, description="history each series is scored over"
    )
    anomaly_step_s: float = Field(default=300.0, ge=30, le=3600, description="resolution of that history")
    anomaly_threshold: float = Field(
        default=0.40,
        gt=0,
        le=1,
        description="anomaly score that warns: 0.40 is the NAB-optimised threshold of the shipped "
        "detector (bench/RESULTS.md)",
    )
    anomaly_cooldown_minutes: float = Field(
        default=120.0, ge=0, description="no second warning for the same workload and metric within this"
    )
    anomaly_min_error_ratio: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="an error ratio below this never warns, however unusual (the first error in a week)",
    )


class AfterMergeSettings(BaseModel):
    """After a merge: GitOps sync status and the recovery watch (docs/verify.md)."""

    verify_enabled: bool = Field(default=True, description="watch merged fixes for recovery")
    verify_window_minutes: int = Field(default=30, ge=1, le=24 * 60, description="how long to wait")
    verify_sustain_minutes: int = Field(default=5, ge=1, description="recovery must hold this long")
    verify_step_s: float = Field(default=30.0, ge=1, description="query resolution of the watch")
    verify_interval_s: float = Field(default=60.0, ge=1, description="how often watches are checked")
    gitops_tool: Literal["none", "argocd", "flux"] = Field(
        default="none", description="whose sync status to show, read from Prometheus"
    )
    gitops_app: str = Field(
        default="{service}", description="application (Argo CD) or Kustomization (Flux) name template"
    )
    gitops_flux_kind: str = Field(default="Kustomization", description="Flux object kind to read")
    argocd_url: str | None = Field(default=None, description="Argo CD API base URL; else read Prometheus")
    argocd_token: SecretStr | None = Field(
        default=None, validation_alias=_std("ARGOCD_AUTH_TOKEN"), description="a read-only API token"
    )
    argocd_timeout_s: float = Field(default=10.0, gt=0, description="seconds each Argo CD API call may take")


class StoreSettings(BaseModel):
    """Store."""

    database_url: str = Field(default="sqlite:///tugboat.db", description="SQLAlchemy URL")


class LlmSettings(BaseModel):
    """LLM (any OpenAI-compatible endpoint)."""

    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=_std("OPENAI_API_KEY"),
        description="key for the OpenAI-compatible endpoint; without it, no model is called",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=_std("OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint (Azure, vLLM, Ollama, LiteLLM...)",
    )
    llm_model: str = Field(default="gpt-4.1-mini", description="model name sent to the endpoint")
    llm_timeout_s: float = Field(default=30.0, gt=0, description="seconds one model request may wait")
    llm_max_retries: int = Field(
        default=3, ge=0, description="retries with backoff on 429, 5xx and timeouts, within the budget"
    )
    llm_max_tool_calls: int = Field(default=4, ge=0, description="hard cap on tool calls per answer")
    llm_max_calls: int = Field(default=3, ge=1, description="model calls per answer, the final one included")
    llm_max_prompt_tokens: int = Field(
        default=8000, ge=500, description="hard cap on prompt tokens per answer, all calls together"
    )
    llm_enabled: bool = Field(default=True, description="false: never call a model, even with a key")
    llm_tool_output_tokens: int = Field(default=600, ge=50, description="per-tool output budget")
    prompts_dir: str | None = Field(default=None, description="overrides for prompts/*.md")
    toolsets_dir: str | None = Field(default=None, description="extra assistant toolsets (*.yaml)")


class SlackSettings(BaseModel):
    """Slack."""

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_std("SLACK_BOT_TOKEN"), description="xoxb- bot token"
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=_std("SLACK_APP_TOKEN"),
        description="xapp- token; set it to use Socket Mode (no public URL)",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_std("SLACK_SIGNING_SECRET"),
        description="verifies Slack's request signatures in HTTP mode",
    )
    slack_api_url: str = Field(default="https://slack.com/api/", description="Web API base URL")
    slack_channel: str | None = Field(default=None, description="default incident channel")
    slack_routes: list[Route] = Field(
        default_factory=list, description="alert label value -> channel, e.g. team=payments -> C0456"
    )
    auto_draft: bool = Field(default=False, description="open the PR without a 'Draft PR' click")
    slack_update_interval_s: float = Field(default=5.0, ge=0, description="coalesce thread updates")
    slack_upload_attempts: int = Field(
        default=3, ge=1, le=10, description="tries per file upload before the thread says it failed"
    )


class GitHubSettings(BaseModel):
    """GitHub (optional; plain git is the default change host)."""

    github_token: SecretStr | None = Field(
        default=None,
        validation_alias=_std("GITHUB_TOKEN"),
        description="fine-grained token (alternative to a GitHub App)",
    )
    github_repo: str | None = Field(default=None, description="owner/name")
    github_app_id: int | None = Field(
        default=None, description="GitHub App id (with the private key and installation id)"
    )
    github_app_private_key: SecretStr | None = Field(default=None, description="GitHub App private key (PEM)")
    github_installation_id: int | None = Field(default=None, description="GitHub App installation id")
    github_api_url: str = Field(
        default="https://api.github.com", description="GitHub API base URL (GitHub Enterprise Server works)"
    )
    github_merge_method: Literal["squash", "merge"] = Field(
        default="squash",
        description="how GitHub merges an approved PR: squash or merge",
    )
    github_timeout_s: float = Field(default=15.0, gt=0, description="seconds each GitHub API call may take")
    github_max_retries: int = Field(default=4, ge=0, description="retries of rate limits and 5xx answers")
    github_max_wait_s: float = Field(default=120.0, gt=0, description="longest rate-limit wait honoured")
    github_seconds_between_writes: float = Field(default=1.0, ge=0, description="GitHub's advice: 1 s")
    kubernetes_version: str = Field(default="1.31", description="schemas the policy scan validates against")


class JobSettings(BaseModel):
    """Background jobs (procrastinate: PostgreSQL across replicas, in memory on SQLite)."""

    jobs_concurrency: int = Field(default=4, ge=1, le=64, description="jobs one replica runs at once")
    jobs_poll_s: float = Field(default=1.0, gt=0, description="how often the queue is polled for jobs")
    jobs_heartbeat_s: float = Field(default=10.0, gt=0, description="how often a worker says it is alive")
    jobs_stalled_after_s: float = Field(
        default=60.0, gt=0, description="a worker silent this long is dead; its jobs run again elsewhere"
    )
    jobs_sweep_s: float = Field(
        default=30.0, ge=1, description="how often stalled jobs and unposted thread updates are looked for"
    )
    jobs_shutdown_s: float = Field(default=60.0, ge=0, description="on shutdown, wait this long for jobs")
    jobs_keep_hours: int = Field(default=72, ge=1, description="finished jobs are deleted after this")
    housekeeping_cron: str = Field(
        default="* * * * *", description="expire proposals, end moved ones, resume stranded merges (cron)"
    )


class HttpSettings(BaseModel):
    """HTTP server."""

    http_host: str = Field(default="0.0.0.0", description="bind address of the HTTP server")
    http_port: int = Field(
        default=8080,
        ge=1,
        le=65535,
        description="port of the HTTP server (Slack events, Alertmanager webhook, probes, metrics)",
    )
    alertmanager_token: SecretStr | None = Field(
        default=None, description="bearer token the webhook requires (unset: any caller; a warning is logged)"
    )


class RequestLimitSettings(BaseModel):
    """Request limits at the HTTP edge (docs/operations.md, "Request limits"): past them, a 4xx."""

    slack_max_body_bytes: int = Field(
        default=1024 * 1024, ge=4096, description="largest body accepted at /slack/events (else 413)"
    )
    alertmanager_max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=4096, description="largest body accepted by the webhook (else 413)"
    )
    http_max_json_depth: int = Field(
        default=32, ge=4, le=500, description="deepest JSON nesting accepted in a request body (else 400)"
    )
    slack_max_text_chars: int = Field(
        default=4000, ge=100, description="longest /tugboat command or @mention question Tugboat reads"
    )


class SlackJournalSettings(BaseModel):
    """The Slack request journal (docs/slack.md, "Nothing acknowledged is lost")."""

    slack_journal_dir: str = Field(
        default="",
        description="where acknowledged Slack requests are journaled until their work is done "
        "(empty: slack-journal under data_dir); keep it across container restarts",
    )
    slack_journal_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024 * 1024,
        description="size of each process's journal file, allocated at start (twice while compacting); "
        "full of requests at work, a request is refused (a 503, or no Socket Mode ack)",
    )
    slack_replay_max_age_s: float = Field(
        default=3600.0,
        ge=0,
        description="at start, unfinished journaled requests older than this are skipped (logged, audited)",
    )
    transport: Literal["auto", "http", "socket"] = Field(
        default="auto",
        description="Slack transport: auto (Socket Mode when SLACK_APP_TOKEN is set), http or socket",
    )


class GeneralSettings(BaseModel):
    """Policy, analysis and logging."""

    policy: ApprovalPolicy = Field(
        default_factory=ApprovalPolicy, description="the approver policy (see below)"
    )
    analysis_kinds: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per cause kind, thresholds that replace its defaults, e.g. "
        '{"memory_limit": {"near_limit": 0.85}} (docs/analysis.md lists them)',
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_json: bool = Field(
        default=True, description="JSON lines on stderr (false: plain text); secrets are redacted either way"
    )
