"""No false refusals: planned scale, memory and CPU changes on the six example incident
repositories (../shared/scenarios/examples) all pass the policy scan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.git.patch import apply_diff
from bot.adapters.kubeschema import KubernetesSchema
from bot.domain.proposal import Action, Proposal
from bot.services.policy_scan import scan_proposal
from bot.settings import ApprovalPolicy
from tests.conftest import SHARED

pytestmark = pytest.mark.shared
EXAMPLES = sorted(p.name for p in (SHARED / "scenarios" / "examples").glob("*")) if SHARED.is_dir() else []
ACTIONS = {"replicas": Action.SCALE, "memory": Action.SET_MEMORY_LIMIT, "cpu": Action.SET_CPU_LIMIT}


@pytest.mark.parametrize("example", EXAMPLES)
def test_planned_changes_on_the_examples_pass(shared_dir: Path, tmp_path: Path, example: str) -> None:
    bundle = shared_dir / "scenarios" / "examples" / example / "repo.bundle"
    checkout = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(bundle), str(checkout)], check=True)
    repo, schema, policy = wiring.workspace(checkout), KubernetesSchema("1.31"), ApprovalPolicy()
    scanned = 0
    for workload in repo.workloads():
        for field, factor in (("replicas", 2), ("memory", 1.5), ("cpu", 1.5)):
            current = repo.effective(workload.name, field, None).value
            if not isinstance(current, int | float):
                continue
            target = int(current * factor) if field != "cpu" else current * factor
            planned = repo.plan(workload.name, field, target, None)
            proposal = Proposal(
                action=ACTIONS[field], service=workload.name, changes=planned.changes, diff=planned.diff
            )
            result = scan_proposal(proposal, policy, checkout, schema, apply_diff=apply_diff)
            assert result.ok, (workload.name, field, result.reasons)
            scanned += 1
    assert scanned >= 6
