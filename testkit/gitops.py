"""A small GitOps repository in a bare remote, for tests that open and merge proposals."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from bot.adapters.manifests.workspace import ManifestRepo
from bot.domain.proposal import Action, Proposal

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout
  namespace: shop
spec:
  replicas: 3  # owned by on-call
  template:
    spec:
      containers:
        - name: checkout
          image: registry.example.com/shop/checkout:1.4.2
          resources:
            limits:
              cpu: "1"
              memory: 512Mi
"""


def git(cwd: Path, *args: str, raw: bool = False) -> str:
    env_args = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]
    out = subprocess.run(
        ["git", *env_args, *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout
    return out if raw else out.strip()


@dataclass
class GitOpsRemote:
    bare: Path
    work: Path

    def head(self, ref: str = "main") -> str:
        return git(self.bare, "rev-parse", ref)

    def show(self, path: str, ref: str = "main") -> str:
        return git(self.bare, "show", f"{ref}:{path}", raw=True)

    def push_to_branch(self, branch: str, path: str, text: str) -> str:
        """Someone else pushes a commit onto a branch (e.g. after approval)."""
        git(self.work, "fetch", "-q", "origin")
        git(self.work, "checkout", "-q", "-B", branch, f"origin/{branch}")
        (self.work / path).parent.mkdir(parents=True, exist_ok=True)
        (self.work / path).write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-qm", "sneaky change")
        git(self.work, "push", "-q", "origin", branch)
        git(self.work, "checkout", "-q", "main")
        return git(self.work, "rev-parse", branch)


def make_remote(root: Path, files: dict[str, str] | None = None) -> GitOpsRemote:
    files = files or {"apps/checkout/deployment.yaml": DEPLOYMENT}
    bare, work = root / "remote.git", root / "work"
    bare.mkdir(parents=True)
    git(bare, "init", "-q", "--bare", "-b", "main")
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-qm", "initial layout")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "origin", "main")
    return GitOpsRemote(bare, work)


def limit_proposal(work: Path, resource: str = "memory") -> Proposal:
    """Raise checkout's ``memory`` (to 768Mi) or ``cpu`` (to 2 cores) limit: another field than
    ``scale_proposal``'s and each other's, so they stay open side by side (none replaces
    another)."""
    memory = resource == "memory"
    planned = ManifestRepo(work).plan("checkout", resource, 768 * 2**20 if memory else 2.0)
    return Proposal(
        action=Action.SET_MEMORY_LIMIT if memory else Action.SET_CPU_LIMIT,
        service="checkout",
        namespace="shop",
        changes=planned.changes,
        diff=planned.diff,
        title=f"raise the {resource} limit of checkout",
    )


def scale_proposal(work: Path, replicas: int = 6, title: str | None = None) -> Proposal:
    """Scale checkout to ``replicas``, planned for real on the checkout ``work`` of a remote
    from ``make_remote``, so the diff applies and merges there."""
    planned = ManifestRepo(work).plan("checkout", "replicas", replicas)
    return Proposal(
        action=Action.SCALE,
        service="checkout",
        namespace="shop",
        changes=planned.changes,
        diff=planned.diff,
        title=title or f"scale checkout to {replicas}",
    )
