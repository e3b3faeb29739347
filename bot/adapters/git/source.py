"""What the repository setting names: a git URL, a bare repository or a clone, made into one
``RepoSource`` that Tugboat fetches from and pushes to, with the credentials git needs for it.

The rule lives here alone (``resolve_source``); everything that reads the GitOps repository
gets it through ``bot.wiring``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit, urlunsplit

from bot.adapters.git.runner import GitFailed, git, redact
from bot.domain.errors import InvalidInput, SourceUnavailable

_WHICH = "the GitOps repository (--repo or TUGBOAT_REPO)"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP = re.compile(r"^(?:[^@/\s]+@)?[A-Za-z0-9.-]+:(?!//)")  # git@github.com:org/repo.git
# The helper reads the password from the environment of the one git process that needs it, so
# it is never on a command line, in a URL, or in a file on disk.
_HELPER = (
    '!f() { test "$1" = get || return 0; '
    'printf "username=%s\\npassword=%s\\n" "$TUGBOAT_GIT_USERNAME" "$TUGBOAT_GIT_PASSWORD"; }; f'
)


@dataclass(frozen=True)
class GitAuth:
    """Credentials for the remote: a password (a token) for HTTPS, or an SSH key file."""

    password: Callable[[], str] | None = None  # called per git command: App tokens expire
    username: str = "x-access-token"  # what GitHub expects beside a token
    # The only hosts the password is sent to (a GitHub token goes to GitHub alone); empty: any.
    hosts: frozenset[str] = field(default=frozenset())
    ssh_key_file: str | None = None
    ssh_known_hosts_file: str | None = None

    def env(self) -> dict[str, str]:
        """Environment for one git command that talks to the remote."""
        out: dict[str, str] = {}
        if self.password is not None:
            try:
                password = self.password()
            except Exception as exc:  # e.g. a GitHub App whose installation token cannot be made
                raise SourceUnavailable(
                    f"no credentials for git: {type(exc).__name__}: {str(exc)[:200]}"
                ) from None
            out |= {
                "GIT_CONFIG_COUNT": "2",
                "GIT_CONFIG_KEY_0": "credential.helper",
                "GIT_CONFIG_VALUE_0": "",  # forget helpers configured on the machine
                "GIT_CONFIG_KEY_1": "credential.helper",
                "GIT_CONFIG_VALUE_1": _HELPER,
                "TUGBOAT_GIT_USERNAME": self.username,
                "TUGBOAT_GIT_PASSWORD": password,
            }
        ssh = ["ssh", "-o", "BatchMode=yes"]
        if self.ssh_key_file:
            ssh += ["-i", _quote(str(Path(self.ssh_key_file).expanduser())), "-o", "IdentitiesOnly=yes"]
        if self.ssh_known_hosts_file:
            known = _quote(str(Path(self.ssh_known_hosts_file).expanduser()))
            ssh += ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
        if len(ssh) > 3:
            out["GIT_SSH_COMMAND"] = " ".join(ssh)
        return out


@dataclass(frozen=True)
class RepoSource:
    """The remote Tugboat fetches from and pushes to, and how it is named in messages."""

    url: str  # a URL without credentials, or an absolute path to a local repository
    name: str  # what people read: never credentials, never a path on this machine
    # Branches checked out in a non-bare local repository: git refuses pushes to them.
    checked_out: frozenset[str] = field(default=frozenset())
    password: str | None = None  # a token that was written into the URL, moved out of it

    def refuse_push_to(self, branch: str) -> None:
        if branch in self.checked_out:
            raise InvalidInput(
                f"the GitOps repository {self.name} is a clone with {branch!r} checked out and no "
                "remote to push to; set TUGBOAT_REPO to the remote it was cloned from "
                "(a URL or a bare repository)"
            )


def resolve_source(setting: str, *, base: Path | None = None) -> RepoSource:
    """The remote that ``setting`` names: a URL as it is (credentials moved out), a bare
    repository itself, a clone's upstream (or the clone itself when it has no remote)."""
    value = setting.strip()
    if not value:
        raise InvalidInput("the GitOps repository is empty: name a git URL or a local repository")
    if _URL.match(value):
        return _from_url(value)
    if _SCP.match(value) and not Path(value).exists():
        return RepoSource(url=value, name=value.split("@", 1)[-1])
    path = (base or Path.cwd()) / Path(value).expanduser()
    return _from_path(path.resolve())


def plain_directory(setting: str, *, base: Path | None = None) -> Path | None:
    """``setting`` as a directory of files that is not the top of a git repository (e.g.
    rendered manifests), which is read as it is on disk; None for anything git can fetch."""
    value = setting.strip()
    if not value or _URL.match(value):
        return None
    path = ((base or Path.cwd()) / Path(value).expanduser()).resolve()
    if not path.is_dir():
        return None
    try:
        if git(["rev-parse", "--is-bare-repository"], path).strip() == "true":
            return None
        top = git(["rev-parse", "--show-toplevel"], path).strip()
    except GitFailed:
        return path
    return None if Path(top).resolve() == path else path


def work_tree(setting: str, *, base: Path | None = None) -> Path | None:
    """The top of the work tree ``setting`` names, or None (a URL, a bare repository)."""
    if _URL.match(setting.strip()):
        return None
    path = ((base or Path.cwd()) / Path(setting.strip()).expanduser()).resolve()
    try:
        top = git(["rev-parse", "--show-toplevel"], path).strip()
    except (GitFailed, SourceUnavailable):
        return None
    return Path(top) if top else None


def _from_url(url: str) -> RepoSource:
    parts = urlsplit(url)
    if parts.scheme == "file":
        local = Path(unquote(parts.path))
        if not local.exists():
            raise InvalidInput(f"{_WHICH} {_name_of(local)}: no repository at that file:// URL")
        found = _from_path(local.resolve())  # a clone behind file:// stands for its upstream too
        return found if found.url != str(local.resolve()) else replace(found, url=url)
    password = unquote(parts.password) if parts.password else None
    if not password and parts.username and parts.scheme.startswith("http"):
        password = unquote(parts.username)  # https://<token>@host/... is a token, not a user
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    if parts.scheme == "ssh" and parts.username:
        netloc = f"{parts.username}@{netloc}"  # an SSH user is not a secret (git@...)
        password = None
    clean = urlunsplit(parts._replace(netloc=netloc))
    return RepoSource(
        url=clean, name=urlunsplit(parts._replace(netloc=host, scheme="")).lstrip("/"), password=password
    )


def _from_path(path: Path) -> RepoSource:
    name = _name_of(path)
    if not path.exists():
        raise InvalidInput(f"{_WHICH} {name} does not exist: name a git URL or a local repository")
    try:
        bare = git(["rev-parse", "--is-bare-repository"], path).strip() == "true"
    except GitFailed:
        raise InvalidInput(f"{_WHICH} {name} is not a git repository") from None
    if bare:
        return RepoSource(url=str(path), name=name)
    upstream = _upstream(path)
    if upstream is not None:
        # A clone stands for the remote it was cloned from: merges land there, never in the
        # user's working copy, whose checked-out branch git would refuse to update anyway.
        remote = Path(upstream).expanduser()
        if not _URL.match(upstream) and not _SCP.match(upstream):
            remote = (path / remote).resolve() if not remote.is_absolute() else remote
            if remote.is_file():  # a git bundle: fetched from, never pushed to
                return RepoSource(url=str(remote), name=name)
            if remote.is_dir():
                return _from_path(remote)
            # the remote it was cloned from is gone: the clone stands for itself
        else:
            return resolve_source(upstream)
    return RepoSource(url=str(path), name=name, checked_out=frozenset(_checked_out(path)))


def _upstream(clone: Path) -> str | None:
    """The URL of the clone's upstream remote (that of the current branch, else ``origin``)."""
    try:
        remotes = git(["remote"], clone).split()
    except GitFailed:
        return None
    if not remotes:
        return None
    try:
        branch = git(["symbolic-ref", "--short", "-q", "HEAD"], clone).strip()
        remote = git(["config", "--get", f"branch.{branch}.remote"], clone).strip()
    except GitFailed:
        remote = ""
    if remote not in remotes:
        remote = "origin" if "origin" in remotes else remotes[0]
    return git(["remote", "get-url", remote], clone).strip() or None


def _checked_out(repo: Path) -> set[str]:
    out = git(["worktree", "list", "--porcelain"], repo)
    prefix = "branch refs/heads/"
    return {line[len(prefix) :] for line in out.splitlines() if line.startswith(prefix)}


def display_name(remote: str) -> str:
    """How people read ``remote``: a URL without credentials, a local repository by its name."""
    if _URL.match(remote) and not remote.startswith("file:"):
        return redact(remote)
    return _name_of(PurePosixPath(urlsplit(remote).path if remote.startswith("file:") else remote))


def _name_of(path: Path | PurePosixPath) -> str:
    return path.name or "the GitOps repository"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def auth_env(auth: GitAuth, source: RepoSource) -> Callable[[], Mapping[str, str]]:
    """The credentials for ``source``: a password only over HTTP(S), where a token written into
    the URL counts like a setting; the SSH options for any remote."""
    if not source.url.startswith(("https://", "http://")):
        return replace(auth, password=None).env
    if auth.hosts and urlsplit(source.url).hostname not in auth.hosts:
        auth = replace(auth, password=None)  # never hand a GitHub token to another host
    if auth.password is None and source.password is not None:
        password = source.password
        return replace(auth, password=lambda: password, hosts=frozenset()).env
    return auth.env
