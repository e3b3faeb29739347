"""The HTTP tests run against the same harness as the Slack tests (a real server and mock Slack)."""

from tests.slack.conftest import harness, harness_factory  # noqa: F401  (pytest fixtures)
