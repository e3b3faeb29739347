"""The GitOps repository's manifests (``ManifestWorkspace``), and the services that read them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.ports.metrics import MetricsSource
from bot.ports.workspace import CurrentWorkspace, ManifestWorkspace
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.analysis.commits import Describe
    from bot.services.capacity import CapacityPlanner
    from bot.services.rightsize import Rightsizer


def workspace(checkout: Path, settings: Settings | None = None) -> ManifestWorkspace:
    """The manifests of ``checkout`` as they are on disk now; listing its files is bounded by
    ``git_budget_s`` when ``settings`` are given."""
    from bot.adapters.manifests.workspace import ManifestRepo

    return ManifestRepo(checkout, git_timeout_s=settings.git_budget_s) if settings else ManifestRepo(checkout)


def current_workspace(checkout: Callable[[], Path] | None) -> CurrentWorkspace | None:
    """Opens the manifests at the commit ``checkout`` fetches at each call; None without one."""
    if checkout is None:
        return None
    fetch = checkout
    return lambda: workspace(fetch())


def changes_classifier() -> Describe:
    """Which workloads a commit changed, read from its YAML (``bot.adapters.git.changes``)."""
    from bot.adapters.git.changes import describe

    return describe


def capacity_planner(settings: Settings, metrics: MetricsSource, checkout: Path) -> CapacityPlanner:
    from bot.services.capacity import CapacityPlanner

    return CapacityPlanner(metrics, workspace(checkout), settings)


def rightsizer(settings: Settings, metrics: MetricsSource, checkout: Path) -> Rightsizer:
    from bot.services.rightsize import Rightsizer

    return Rightsizer(metrics, workspace(checkout), settings)
