"""The GitOps repository: which one the settings name, the credentials to reach it, and
Tugboat's own working clone of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.adapters.git.source import GitAuth
    from bot.adapters.git.workclone import WorkingClone


def git_auth(settings: Settings) -> GitAuth:
    """Credentials for the GitOps remote: GitHub's token or App installation token for HTTPS,
    the SSH key file for SSH. They reach git through its environment only."""
    from urllib.parse import urlsplit

    from bot.adapters.git.source import GitAuth
    from bot.adapters.github.client import github_auth, github_client

    password = None
    token = settings.github_token.get_secret_value() if settings.github_token else ""
    if token or settings.github_app_id is not None:
        auth = github_auth(settings)
        github_client(settings, auth=auth)  # an App's installation token is minted through it
        password = lambda: str(auth.token)  # noqa: E731  (read per command: App tokens expire)
    api_host = urlsplit(settings.github_api_url).hostname or ""
    # api.github.com serves github.com; GitHub Enterprise Server serves its API on its own host.
    hosts = {"github.com", api_host} if api_host == "api.github.com" else {api_host}
    return GitAuth(
        password=password,
        hosts=frozenset(hosts),
        ssh_key_file=settings.repo_ssh_key_file,
        ssh_known_hosts_file=settings.repo_ssh_known_hosts_file,
    )


def repository(settings: Settings, repo: str | Path | None = None) -> WorkingClone | None:
    """Tugboat's own working clone of the GitOps repository that ``repo`` names (default
    ``TUGBOAT_REPO``): a URL, a bare repository or a clone, all by one rule
    (``bot.adapters.git.source.resolve_source``); without one, ``github_repo`` on GitHub's host.
    None when no repository is configured."""
    from bot.adapters.git.source import auth_env, resolve_source
    from bot.adapters.git.workclone import WorkingClone

    value = _repo_setting(settings, repo)
    if not value:
        return None
    source = resolve_source(value)
    env = auth_env(git_auth(settings), source)
    return WorkingClone(source, Path(settings.data_dir), settings.repo_default_branch, env=env)


def _repo_setting(settings: Settings, repo: str | Path | None) -> str | None:
    """What names the repository: ``repo`` (a command's --repo), else ``TUGBOAT_REPO``, else
    ``https://github.com/<github_repo>.git`` (or the GitHub Enterprise Server host)."""
    from urllib.parse import urlsplit

    if repo is not None:
        return str(repo)
    if settings.repo or not settings.github_repo:
        return settings.repo
    host = urlsplit(settings.github_api_url).hostname or "api.github.com"
    return f"https://{'github.com' if host == 'api.github.com' else host}/{settings.github_repo}.git"


def checkout(settings: Settings, repo: str | Path | None = None, *, as_on_disk: bool = False) -> Path | None:
    """A directory holding the default branch's newest commit, fetched now; None without a
    repository. A directory that is not a git repository is read as it is on disk, and with
    ``as_on_disk`` so is a clone's work tree (``tugboat manifest`` plans edits of your files)."""
    from bot.adapters.git.source import plain_directory, work_tree

    value = _repo_setting(settings, repo)
    plain = plain_directory(value) if value else None
    if as_on_disk and value and plain is None:
        plain = work_tree(value)
    if plain is not None:
        return plain
    clone = repository(settings, repo)
    return clone.checkout() if clone is not None else None
