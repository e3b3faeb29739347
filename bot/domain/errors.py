"""Errors that carry a message meant for a person, never a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class TugboatError(Exception):
    """Base for errors that the CLI and Slack surfaces show as a clear message."""


class InvalidInput(TugboatError):
    """Input from a person or a webhook that cannot be used as given."""


class SourceUnavailable(TugboatError):
    """An evidence source (Prometheus, Loki, git) could not be reached or answered badly."""


class PolicyViolation(TugboatError):
    """A proposal or a decision that the policy refuses."""


class ConflictError(TugboatError):
    """State moved under us: a branch head changed, a proposal was already decided."""


class Tampered(ConflictError):
    """A proposal's branch holds something Tugboat did not put there (a foreign commit, a force
    push, a deletion); the proposal can never merge."""


class MessageGone(SourceUnavailable):
    """The chat message (or its whole channel) no longer exists: nothing is left to update."""


class SourceTimedOut(SourceUnavailable):
    """A source accepted the request but gave no complete answer within its budget."""


class SourceUnreachable(SourceUnavailable):
    """A source could not be connected to at all: refused, or its name does not resolve."""


def validation_problems(exc: ValidationError, whole: str = "payload", most: int = 5) -> str:
    """The first problems pydantic found, as ``field.path: message`` joined by semicolons."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or whole}: {err['msg']}" for err in exc.errors()[:most]
    )
