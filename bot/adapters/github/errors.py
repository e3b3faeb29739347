"""PyGithub's exceptions as Tugboat errors that say what failed and what to do."""

from __future__ import annotations

from typing import Literal

from github import GithubException

from bot.domain.errors import SourceUnavailable
from bot.observability.metrics import GITHUB_ERRORS


def message_of(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    parts = [str(data.get("message") or exc.status)]
    for err in data.get("errors") or []:
        if isinstance(err, dict):
            fields = (err.get("resource"), err.get("field"), err.get("code"))
            text = err.get("message") or " ".join(str(f) for f in fields if f)
        else:
            text = str(err)
        if text:
            parts.append(str(text))
    return "; ".join(parts)


class github_errors:
    """Turn PyGithub's exceptions into Tugboat errors that say what failed and what to do."""

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> Literal[False]:
        if not isinstance(exc, GithubException):
            return False
        GITHUB_ERRORS.labels(status=str(exc.status)).inc()
        detail = message_of(exc)
        if exc.status in (401, 403):
            hint = "check the token or App installation and its permissions (docs/github.md)"
        elif exc.status == 404:
            hint = "the repository or object was not found, or the credentials cannot see it"
        else:
            hint = "GitHub answered with an error; try again later"
        raise SourceUnavailable(f"GitHub {exc.status} while {self.doing}: {detail}; {hint}") from None
