"""Structured logs: every line is JSON (or plain text), and a planted secret never reaches the
output, whether it sits in the message, its arguments, extra fields, an exception or a stack."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bot.domain.errors import InvalidInput
from bot.observability.logging import HANDLER_NAME, configure_logging
from bot.settings import Settings

# Assembled at run time so that no secret-shaped literal sits in the repository.
SLACK_TOKEN = "xoxb-" + "2417-7761-" + "Zq8W" * 5
GITHUB_TOKEN = "ghp_" + "N7x2" * 9
OPENAI_KEY = "sk-proj-" + "Qm4T9" * 8
DB_URL = "postgresql+psycopg://tugboat:" + "hunter2-" + "Pa55w0rd" + "@db:5432/tugboat"
PLANTED = (SLACK_TOKEN, GITHUB_TOKEN, OPENAI_KEY, "hunter2-Pa55w0rd")


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    configure_logging(Settings(log_json=True, log_level="DEBUG"), stream)
    yield stream
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    root.handlers[:], root.level = before[0], before[1]


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def assert_clean(text: str) -> None:
    for secret in PLANTED:
        assert secret not in text
    assert "[REDACTED:" in text


def test_secret_in_message_and_args_never_appears(output: io.StringIO) -> None:
    log = logging.getLogger("tugboat.test")
    log.info("posting with %s to %s", SLACK_TOKEN, "C0123")
    log.warning(f"github answered 401 for token {GITHUB_TOKEN}")
    log.debug("connecting to %(url)s", {"url": DB_URL})
    text = output.getvalue()
    assert_clean(text)
    first, second, third = lines(output)
    assert first["message"] == "posting with [REDACTED:slack_token] to C0123"
    assert first["level"] == "INFO" and first["logger"] == "tugboat.test" and "timestamp" in first
    assert second["level"] == "WARNING"
    assert "@db:5432/tugboat" in str(third["message"])  # the rest of the URL stays useful


def test_secret_in_extra_fields_never_appears(output: io.StringIO) -> None:
    headers = {"Authorization": f"Bearer {OPENAI_KEY}", "Accept": "application/json"}
    logging.getLogger("tugboat.llm").info("request", extra={"headers": headers, "attempt": 2})
    (record,) = lines(output)
    assert_clean(output.getvalue())
    assert record["attempt"] == 2
    assert record["headers"]["Accept"] == "application/json"  # type: ignore[index]


def test_secret_in_an_exception_never_appears(output: io.StringIO) -> None:
    log = logging.getLogger("tugboat.github")
    try:
        raise PermissionError(f"bad credentials: {GITHUB_TOKEN}")
    except PermissionError:
        log.exception("merge failed")
    log.info("where am I", stack_info=True, extra={"token_holder": OPENAI_KEY})
    assert_clean(output.getvalue())
    failure, stack = lines(output)
    assert "PermissionError: bad credentials: [REDACTED:github_token]" in str(failure["exc_info"])
    assert "Stack (most recent call last)" in str(stack["stack_info"])


def test_records_from_other_libraries_are_redacted_too(output: io.StringIO) -> None:
    logging.getLogger("slack_bolt.App").error("auth.test failed for %s", SLACK_TOKEN)
    logging.getLogger("urllib3.connectionpool").debug("https://user:hunter2-Pa55w0rd@git.example.com/x.git")
    logging.getLogger("github.Requester").warning("Authorization: token %s", GITHUB_TOKEN)
    assert_clean(output.getvalue())
    assert len(lines(output)) == 3


def test_plain_text_format_is_redacted() -> None:
    stream = io.StringIO()
    handler = configure_logging(Settings(log_json=False, log_level="INFO"), stream)
    try:
        logging.getLogger("tugboat").info("token %s", SLACK_TOKEN)
        logging.getLogger("tugboat").debug("below the level %s", SLACK_TOKEN)
        text = stream.getvalue()
        assert_clean(text)
        assert text.count("\n") == 1 and " INFO tugboat token [REDACTED:slack_token]" in text
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
    finally:
        logging.getLogger().removeHandler(handler)


def test_configuring_twice_keeps_one_handler(output: io.StringIO) -> None:
    second = io.StringIO()
    configure_logging(Settings(log_json=True), second)
    logging.getLogger("tugboat").warning("once")
    assert [h.get_name() for h in logging.getLogger().handlers].count(HANDLER_NAME) == 1
    assert output.getvalue() == "" and len(lines(second)) == 1


def test_an_unknown_level_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="TUGBOAT_LOG_LEVEL"):
        configure_logging(Settings(log_level="LOUD"), io.StringIO())


def test_importing_the_module_changes_no_logging_state() -> None:
    code = (
        "import logging; before = list(logging.getLogger().handlers);"
        "import bot.observability.logging;"
        "assert logging.getLogger().handlers == before, logging.getLogger().handlers"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_job_queue_logs_jobs_without_their_arguments(output: io.StringIO) -> None:
    from procrastinate.jobs import Job

    reason = "the on-call is Dana, phone in the runbook"
    job = Job(
        id=7,
        queue="default",
        lock=None,
        queueing_lock=None,
        task_name="proposal.on_host",
        task_kwargs={"proposal_id": "p1", "comment": f"Rejected in Slack by <@U1>: {reason}"},
    )
    # As procrastinate's worker logs a job starting: the call string and the job as an extra.
    logging.getLogger("procrastinate.worker").info(
        f"Starting job {job.call_string}", extra={"action": "start_job", "job": job.log_context()}
    )
    (line,) = lines(output)
    assert reason not in json.dumps(line)
    assert line["message"] == "Starting job proposal.on_host[7]"
    assert line["job"]["task_name"] == "proposal.on_host" and "task_kwargs" not in line["job"]  # type: ignore[index,operator]
