"""The anomaly watch ``serve`` runs on ``anomaly_cron``: early warnings in the incident channel."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.domain.errors import TugboatError
from bot.ports.chat import ChatNotifier
from bot.ports.jobs import JobQueue
from bot.ports.store import Store
from bot.settings import Settings
from bot.wiring.sources import metrics_source

if TYPE_CHECKING:
    from bot.services.anomaly_warning import AnomalyWarning
    from bot.services.anomaly_watch import AnomalyWatch

log = logging.getLogger(__name__)


def anomaly_watch(
    settings: Settings, store: Store, chat: ChatNotifier, render: Any = None, jobs: JobQueue | None = None
) -> AnomalyWatch | None:
    """Warnings go where an alert about the workload would (``slack_routes`` matched on its
    ``namespace`` and ``workload`` labels, else ``slack_channel``), as plain text with a graph of
    the last day: no proposal and no buttons, a warning is not a diagnosis. Each post is a chat
    step (posted once, however often it is tried) and, with ``jobs``, a job of its own
    (``anomaly.post``; register ``job_specs()``). None without Prometheus, a schedule or an
    incident channel."""
    metrics = metrics_source(settings)
    default = settings.slack_channel
    if metrics is None or not settings.anomaly_cron or not default:
        return None
    from bot.adapters.slack import blocks
    from bot.adapters.slack.replies import anomaly_warning_text
    from bot.ports.chat import Attachment
    from bot.services.anomaly_posts import WarningPosts
    from bot.services.anomaly_watch import AnomalyWatch
    from bot.services.chat_steps import ChatSteps

    steps = ChatSteps(store, chat)

    def notify(warning: AnomalyWarning, step: str) -> None:
        labels = {"namespace": warning.namespace, "workload": warning.workload}
        channel = settings.channel_for(labels) or default
        text = anomaly_warning_text(warning)
        ts = steps.post(step, channel, text, [blocks.section(text)])
        if ts is None or render is None:  # None: an earlier try posted it
            return
        try:  # the warning is out; a graph that fails to upload must not make it look unsent
            with tempfile.TemporaryDirectory(prefix="tugboat-anomaly-") as tmp:
                paths = render([warning.graph], Path(tmp))
                chat.upload_files(channel, ts, [Attachment(filename=p.name, path=p) for p in paths])
        except TugboatError as exc:
            log.warning("early warning posted without its graph: %s", exc)

    return AnomalyWatch(metrics, store, settings, WarningPosts(store, notify, jobs=jobs))
