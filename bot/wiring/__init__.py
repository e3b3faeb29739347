"""The composition root: the one place that builds adapters from Settings and wires use cases.

Commands and servers ask this package for what they need; nothing else constructs adapters.
Each module builds one area: evidence sources, the repository, persistence, where changes go,
the assistant, the doctor's probes, the manifests, the anomaly watch; ``bot.wiring.serve``
builds what ``tugboat serve`` runs.
"""

from bot.wiring.anomaly import anomaly_watch
from bot.wiring.changes import (
    capacity_check,
    change_host,
    change_requests,
    merge_watch,
    post_merge,
    workflow,
)
from bot.wiring.doctor import doctor_checks
from bot.wiring.llm import assistant, tool_context
from bot.wiring.persistence import job_queue, store
from bot.wiring.repository import checkout, git_auth, repository
from bot.wiring.sources import cause_kinds, git_history, investigator, log_source, metrics_source
from bot.wiring.workspace import (
    capacity_planner,
    changes_classifier,
    current_workspace,
    rightsizer,
    workspace,
)

__all__ = [
    "anomaly_watch",
    "assistant",
    "capacity_check",
    "capacity_planner",
    "cause_kinds",
    "change_host",
    "change_requests",
    "changes_classifier",
    "checkout",
    "current_workspace",
    "doctor_checks",
    "git_auth",
    "git_history",
    "investigator",
    "job_queue",
    "log_source",
    "merge_watch",
    "metrics_source",
    "post_merge",
    "repository",
    "rightsizer",
    "store",
    "tool_context",
    "workflow",
    "workspace",
]
