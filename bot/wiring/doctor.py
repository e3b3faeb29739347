"""The probes `tugboat doctor` runs, with the adapters they test."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.wiring.repository import repository
from bot.wiring.sources import metrics_source

if TYPE_CHECKING:
    from bot.services.doctor import Check


def doctor_checks() -> dict[str, Check]:
    """The probes ``tugboat doctor`` runs, by the name it shows, with the adapters they test
    built here (bot/adapters/doctor)."""
    from functools import partial

    from bot.adapters.doctor.hosted import check_github, check_slack
    from bot.adapters.doctor.infra import (
        check_database,
        check_git,
        check_jobs,
        check_llm,
        check_loki,
        check_prometheus,
    )

    return {
        "Slack": check_slack,
        "GitHub": check_github,
        "Prometheus": partial(check_prometheus, source=metrics_source),
        "Loki": check_loki,
        "LLM": check_llm,
        "Database": check_database,
        "Job queue": check_jobs,
        "Git remote": partial(check_git, repository=repository),
    }
