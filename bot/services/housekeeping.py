"""The periodic ``housekeeping`` job: expire undecided proposals, end those whose branch was
changed outside Tugboat, resume stranded merges and lost updates of ended proposals' messages,
and forget old de-duplication keys. Once per
scheduled time across replicas, like every periodic job."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.ports.jobs import JobSpec
from bot.ports.store import Store
from bot.services.proposal_messages import ProposalMessages
from bot.services.proposals import ProposalWorkflow

log = logging.getLogger(__name__)

HOUSEKEEPING = "housekeeping"
# Dedup keys only need to outlive Alertmanager's repeats and Slack's retries.
KEEP_KEYS = timedelta(days=7)


def housekeeping_spec(
    store: Store,
    workflow: ProposalWorkflow | None,
    cron: str,
    messages: ProposalMessages | None = None,
) -> JobSpec:
    """``messages``: ended proposals' messages whose update was lost are queued again."""

    def run(at: datetime) -> None:
        if workflow is not None:
            expired = workflow.expire_due()
            tampered = workflow.sweep_heads()
            resumed = workflow.resume_merges()
            if messages is not None:
                messages.resume()
            if expired or tampered or resumed:
                log.info(
                    "housekeeping: %d proposals expired, %d changed outside Tugboat, %d merges resumed",
                    len(expired),
                    len(tampered),
                    len(resumed),
                )
        store.purge_processed_keys(at - KEEP_KEYS)

    return JobSpec(HOUSEKEEPING, run, cron=cron)
