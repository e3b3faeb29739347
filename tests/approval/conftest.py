"""``tugboat serve --http`` as real processes (one on SQLite, two replicas on PostgreSQL) with the
mock Slack Web API, signed Slack requests and a git remote an attacker can push to.

The repository Tugboat is pointed at (``TUGBOAT_REPO``) is a bare remote, as users deploy it:
Tugboat plans on its own working clone, and proposals are pushed to and merged into the remote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from bot.adapters.slack import blocks
from bot.adapters.store import SqlStore
from bot.domain.audit import AuditEvent
from bot.domain.proposal import Proposal
from testkit import slack_requests
from testkit.gitops import DEPLOYMENT, git
from testkit.serve_process import serve_env
from testkit.slack_api import Call, SlackApi, running_slack_api
from tests.jobs.test_replicas import FAST_JOBS, Replica, wait_until

CHANNEL = "CINC"
APPROVERS = ("UAPPROVER1", "UAPPROVER2")
REQUESTER = "UREQUESTER"

# testkit/gitops.py's Deployment, with requests
CHECKOUT = DEPLOYMENT.replace(
    "          resources:\n",
    "          resources:\n            requests:\n              cpu: 250m\n              memory: 256Mi\n",
)
# Its memory limit sits below its request; the next commit raises it but breaks the YAML.
PAYMENTS = (
    CHECKOUT.replace("checkout", "payments")
    .replace("namespace: shop", "namespace: payments")
    .replace("memory: 512Mi", "memory: 128Mi")
)
PAYMENTS_BROKEN = PAYMENTS.replace("memory: 128Mi", 'memory: 512Mi\n\t  cpu: "1"')
PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: kube-system
spec:
  hostPID: true
  containers:
    - name: shell
      image: busybox:1.36
      securityContext:
        privileged: true
"""


@dataclass
class GitOpsRepo:
    """The repository Tugboat serves (``path``) and an attacker's clone with push access."""

    path: Path
    attacker: Path

    def push_to_branch(self, branch: str, files: dict[str, str]) -> str:
        git(self.attacker, "fetch", "-q", "origin")
        git(self.attacker, "checkout", "-q", "-B", branch, f"origin/{branch}")
        for rel, text in files.items():
            (self.attacker / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.attacker / rel).write_text(text)
        git(self.attacker, "add", "-A")
        git(self.attacker, "commit", "-qm", "tweak")
        git(self.attacker, "push", "-q", "origin", branch)
        return git(self.attacker, "rev-parse", "HEAD")

    def merges(self) -> list[str]:
        return git(self.path, "rev-list", "--merges", "main").split()

    def show(self, rel: str, ref: str = "main") -> str:
        return git(self.path, "show", f"{ref}:{rel}", raw=True)

    def files(self, ref: str = "main") -> list[str]:
        return git(self.path, "ls-tree", "-r", "--name-only", ref).split()

    def branches(self) -> list[str]:
        return git(self.path, "for-each-ref", "--format=%(refname:short)", "refs/heads/tugboat/").split()


def make_repo(root: Path) -> GitOpsRepo:
    work = root / "gitops-work"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    for rel, text in {
        "apps/checkout/deployment.yaml": CHECKOUT,
        "apps/payments/deployment.yaml": PAYMENTS,
    }.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-qm", "initial layout")
    (work / "apps/payments/deployment.yaml").write_text(PAYMENTS_BROKEN)
    git(work, "commit", "-qam", "payments: raise the memory limit")
    path = root / "gitops.git"
    git(root, "clone", "-q", "--bare", str(work), str(path))
    attacker = root / "attacker"
    git(root, "clone", "-q", str(path), str(attacker))
    return GitOpsRepo(path, attacker)


@dataclass
class Posted:
    """A proposal message as Slack shows it: its ts, and its buttons' values."""

    ts: str
    text: str
    approve: str  # "<proposal id>@<head sha>"

    @property
    def proposal_id(self) -> str:
        return blocks.button_target(self.approve)[0]

    @property
    def head(self) -> str:
        return blocks.button_target(self.approve)[1]


@dataclass
class Serving:
    api: SlackApi
    repo: GitOpsRepo
    database_url: str
    replicas: list[Replica]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def replica(self, n: int) -> Replica:
        return self.replicas[n % len(self.replicas)]

    def command(self, text: str, user: str = REQUESTER, on: int = 0) -> requests.Response:
        made = slack_requests.command(text, user=user, channel=CHANNEL, response_url=self.api.response_url)
        return self.replica(on).slack(made)

    def click(
        self, value: str, ts: str, user: str, on: int = 0, clicked_at: str | None = None
    ) -> tuple[requests.Response, tuple[bytes, dict[str, str]]]:
        made = slack_requests.button(
            blocks.ACTION_APPROVE, value, user=user, channel=CHANNEL, message_ts=ts, clicked_at=clicked_at
        )
        return self.replica(on).slack(made), made

    def proposal_posted(self, title: str) -> Posted:
        calls = self.api.wait_for("chat.postMessage", 1, timeout=60, text=f"Proposed change: {title}")
        call = calls[0]
        ts = next(
            ts for ts, msgs in self.api.replies.items() if any(m["text"] == call.args["text"] for m in msgs)
        )
        actions = [b for b in call.args["blocks"] if b.get("type") == "actions"]
        return Posted(ts, call.args["text"], actions[-1]["elements"][0]["value"])

    def ephemerals(self, user: str) -> list[Call]:
        return [c for c in self.api.of("chat.postEphemeral") if c.args.get("user") == user]

    def wait_ephemeral(self, user: str, count: int = 1) -> list[Call]:
        wait_until(
            lambda: len(self.ephemerals(user)) >= count, 60, f"{count} note(s) to {user}", self.replicas
        )
        return self.ephemerals(user)

    def wait_response(self, count: int = 1) -> list[Call]:
        """Answers to slash commands, posted to the command's ``response_url``."""
        wait_until(
            lambda: len(self.api.of("response_url")) >= count, 60, f"{count} command answer(s)", self.replicas
        )
        return self.api.of("response_url")

    def updates(self, ts: str) -> list[Call]:
        return [c for c in self.api.of("chat.update") if c.args.get("ts") == ts]

    def trail(self, proposal_id: str | None = None) -> list[AuditEvent]:
        with SqlStore.open(self.database_url) as store:
            return store.audit_trail(proposal_id)

    def proposal(self, proposal_id: str) -> Proposal:
        with SqlStore.open(self.database_url) as store:
            found = store.get_proposal(proposal_id)
        assert found is not None
        return found

    def audit_verify(self) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "TUGBOAT_DATABASE_URL": self.database_url}
        return subprocess.run(
            [sys.executable, "-m", "bot", "audit", "verify"],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def metrics(self, on: int = 0) -> str:
        return requests.get(self.replica(on).url + "/metrics", timeout=10).text

    def settle(self, seconds: float = 2.0) -> None:
        """Long enough for a second action, were there one, to show."""
        time.sleep(seconds)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def serving(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Serving]:
    """One replica on SQLite, or two replicas sharing PostgreSQL."""
    with serve(request, tmp_path) as served:
        yield served


@contextmanager
def serve(request: pytest.FixtureRequest, tmp_path: Path, **extra: str) -> Iterator[Serving]:
    """``serving``, with ``extra`` added to the replicas' environment."""
    if request.param == "sqlite":
        database_url, count = f"sqlite:///{tmp_path / 'tugboat.db'}", 1
    else:
        database_url, count = str(request.getfixturevalue("postgres_url")), 2
    with SqlStore.open(database_url):  # migrate once, as `serve --workers` does
        pass
    repo = make_repo(tmp_path)
    policy = {
        "approvers": list(APPROVERS),
        "rules": [{"namespace": "shop", "required_approvals": 2}],
    }
    replicas: list[Replica] = []
    with running_slack_api() as api:
        env = serve_env(
            api.base_url,
            CHANNEL,
            database_url,
            **FAST_JOBS,
            TUGBOAT_REPO=str(repo.path),
            TUGBOAT_POLICY=json.dumps(policy),
            **extra,
        )
        try:
            for n in range(count):
                workdir = tmp_path / f"replica{n}"
                workdir.mkdir()
                replicas.append(Replica(f"replica{n}", env, workdir))
            for replica in replicas:
                replica.wait_ready()
            yield Serving(api, repo, database_url, replicas, tmp_path, env)
        finally:
            for replica in replicas:
                replica.stop()
