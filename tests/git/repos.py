"""Real git repositories in temp directories, for the git adapter tests."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

IDENTITY = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "-c", "commit.gpgsign=false"]


def run(cwd: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *IDENTITY, *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


class Repo:
    """A working repository with helpers to commit files at chosen times."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> Repo:
        path.mkdir(parents=True, exist_ok=True)
        run(path, "init", "-q", "-b", branch)
        return cls(path)

    @classmethod
    def clone(cls, source: Path | str, path: Path, branch: str = "main") -> Repo:
        run(path.parent, "clone", "-q", "-b", branch, str(source), str(path))
        return cls(path)

    def git(self, *args: str, input: str | None = None) -> str:
        return run(self.path, *args, input=input)

    def commit(self, message: str, files: dict[str, str | None], at: datetime | None = None) -> str:
        """Write (or, for None, delete) files and commit them; returns the new sha."""
        for rel, text in files.items():
            target = self.path / rel
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        run(self.path, "add", "-A")
        stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        run(self.path, "commit", "-q", "-m", message, env=env)
        return self.head()

    def head(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", rev).strip()

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()


def bare_remote(tmp: Path, seed: dict[str, str]) -> tuple[Path, Repo]:
    """A bare "remote" with ``main`` holding ``seed``, and the working clone that pushed it."""
    remote = tmp / "remote.git"
    run(tmp, "init", "-q", "--bare", "-b", "main", str(remote))
    work = Repo.init(tmp / "seed")
    work.commit("Initial layout", seed, at=datetime(2026, 11, 1, tzinfo=UTC))
    work.git("remote", "add", "origin", str(remote))
    work.git("push", "-q", "origin", "main")
    return remote, work


def write_tree_after_revert(repo: Repo, sha: str) -> str:
    """The tree ``git revert --no-commit sha`` produces on HEAD (the grader's reference)."""
    base = repo.head()
    repo.git("revert", "--no-commit", sha)
    tree = repo.git("write-tree").strip()
    repo.git("reset", "-q", "--hard", base)
    return tree


def write_tree_after_apply(repo: Repo, diff: str) -> str:
    base = repo.head()
    repo.git("apply", "--index", "-", input=diff)
    tree = repo.git("write-tree").strip()
    repo.git("reset", "-q", "--hard", base)
    return tree


def deployment(
    name: str,
    image: str,
    *,
    replicas: int = 2,
    cpu: str = "500m",
    memory: str = "256Mi",
    log_level: str = "info",
    item_column: int = 6,
) -> str:
    """A Deployment manifest; ``item_column`` < 6 dedents the containers list as seen in the wild."""
    pad = " " * item_column
    return (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        f"  replicas: {replicas}  # owned by on-call\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        f"{pad}- name: {name}\n"
        f"{pad}  image: {image}\n"
        f"{pad}  env:\n"
        f"{pad}    - name: LOG_LEVEL\n"
        f'{pad}      value: "{log_level}"\n'
        f"{pad}  resources:\n"
        f"{pad}    requests:\n"
        f"{pad}      cpu: 250m\n"
        f"{pad}    limits:\n"
        f'{pad}      cpu: "{cpu}"\n'
        f"{pad}      memory: {memory}\n"
    )


def overlay(
    images: dict[str, str], replicas: dict[str, int], registry: str = "registry.example.com/shop"
) -> str:
    """A production Kustomize overlay over ``base/<svc>`` for each service."""
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "namespace: shop",
        "resources:",
    ]
    lines += [f"  - ../../base/{svc}" for svc in images]
    lines += ["replicas:"]
    for svc, count in replicas.items():
        lines += [f"  - name: {svc}", f"    count: {count}"]
    lines += ["images:"]
    for svc, tag in images.items():
        lines += [f"  - name: {registry}/{svc}", f'    newTag: "{tag}"']
    return "\n".join(lines) + "\n"
