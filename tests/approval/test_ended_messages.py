"""``tugboat serve --http`` as real processes: a proposal that housekeeping ends (its branch moved
outside Tugboat) has its Slack message updated once, on SQLite (one process) and on PostgreSQL
(two replicas, both running housekeeping and the job worker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.slack import blocks
from bot.domain.proposal import ProposalState
from tests.approval.conftest import PRIVILEGED_POD, Serving, serve
from tests.jobs.test_replicas import wait_until

pytestmark = [pytest.mark.slow]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def housekept(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Serving]:
    with serve(request, tmp_path, TUGBOAT_HOUSEKEEPING_CRON="* * * * * */1") as served:
        yield served


def test_housekeeping_ends_a_moved_proposal_and_its_message_is_updated_once(housekept: Serving) -> None:
    assert housekept.command("limits checkout cpu 2").status_code == 200
    posted = housekept.proposal_posted("CPU limit 2 for checkout")
    housekept.repo.push_to_branch(f"tugboat/{posted.proposal_id}", {"apps/debug/pod.yaml": PRIVILEGED_POD})

    wait_until(lambda: housekept.updates(posted.ts), 60, "the proposal message to change", housekept.replicas)
    housekept.settle(4.0)  # several housekeeping runs later, on every replica
    [update] = housekept.updates(posted.ts)
    assert update.args["text"].startswith("Not merged: its branch was changed outside Tugboat")
    assert blocks.ACTION_APPROVE not in json.dumps(update.args["blocks"])
    assert housekept.proposal(posted.proposal_id).state is ProposalState.TAMPERED
    ended = [e for e in housekept.trail(posted.proposal_id) if e.kind == "proposal.message_ended"]
    assert [e.data["outcome"] for e in ended] == ["updated"]
    checked = housekept.audit_verify()
    assert checked.returncode == 0, checked.stdout + checked.stderr
