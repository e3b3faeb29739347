"""Evidence sources built from Settings: Prometheus, logs (a file or Loki), git history, and the
investigator that reads them."""

from __future__ import annotations

from pathlib import Path

from requests.adapters import BaseAdapter

from bot.analysis.kinds import Kinds, configured
from bot.ports.gitrepo import GitHistory
from bot.ports.logs import LogSource
from bot.ports.metrics import MetricsSource
from bot.services.investigate import Investigator
from bot.settings import Settings
from bot.wiring.repository import checkout
from bot.wiring.workspace import changes_classifier, workspace


def metrics_source(
    settings: Settings, url: str | None = None, transport: BaseAdapter | None = None
) -> MetricsSource | None:
    from bot.adapters.prometheus import PrometheusMetrics

    url = url or settings.prometheus_url
    if not url:
        return None
    return PrometheusMetrics(
        url,
        timeout_s=settings.prometheus_timeout_s,
        headers=settings.prometheus_headers,
        transport=transport,
        budget_s=settings.prometheus_budget_s,
    )


def log_source(
    settings: Settings, logs_file: Path | None = None, loki_url: str | None = None
) -> LogSource | None:
    """A JSON Lines file when given, else Loki when configured, else no logs."""
    if logs_file is not None:
        from bot.adapters.logs import JsonlLogSource

        return JsonlLogSource(logs_file)
    url = loki_url or settings.loki_url
    if url:
        from bot.adapters.logs import LokiLogSource

        return LokiLogSource(url, timeout_s=settings.loki_timeout_s, budget_s=settings.loki_budget_s)
    return None


def git_history(repo: Path | None, settings: Settings | None = None) -> GitHistory | None:
    if repo is None:
        return None
    from bot.adapters.git.history import LocalGitHistory

    return LocalGitHistory(repo, budget_s=settings.git_budget_s) if settings else LocalGitHistory(repo)


def cause_kinds(settings: Settings) -> Kinds:
    """The cause kinds, each with the thresholds ``analysis_kinds`` sets (InvalidInput if wrong)."""
    return configured(settings.analysis_kinds)


def investigator(
    settings: Settings,
    *,
    prometheus_url: str | None = None,
    logs_file: Path | None = None,
    loki_url: str | None = None,
    repo: Path | None = None,
    transport: BaseAdapter | None = None,
    recording: Path | None = None,
    kinds: Kinds | None = None,
) -> Investigator:
    """``repo`` is a checkout (from ``checkout``); without it, ``TUGBOAT_REPO`` is fetched now.
    ``recording`` replays recorded Prometheus answers instead of asking one (the demo); ``kinds``
    are the cause kinds built once by the caller (else from ``settings`` now)."""
    if recording is not None:
        from bot.adapters.prometheus.recording import ReplayAdapter

        transport = ReplayAdapter.load(recording)
    repo = repo or checkout(settings)
    return Investigator(
        metrics_source(settings, prometheus_url, transport),
        log_source(settings, logs_file, loki_url),
        git_history(repo, settings),
        repo,
        settings,
        workspace=(lambda: workspace(repo, settings)) if repo is not None else None,
        describe=changes_classifier(),
        kinds=kinds if kinds is not None else cause_kinds(settings),
    )
