"""Errors that carry a message meant for a person, never a traceback."""


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
