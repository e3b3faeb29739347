"""Logging for people and log pipelines: JSON lines (python-json-logger) or plain text, with
every secret redacted before a record is written.

Logs are untrusted output: they leave the pod, get indexed and are read by many. The redaction
filter sits on the handler, so it sees records from every logger (Tugboat's, Slack Bolt's,
uvicorn's, urllib3's) and rewrites the message, its arguments, extra fields, exception text and
stack text with ``bot.security.redact``. Nothing happens at import time: call
``configure_logging`` once at start.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

from bot.domain.errors import InvalidInput
from bot.security.redact import redact, redact_data
from bot.settings import Settings

HANDLER_NAME = "tugboat"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_JSON_NATIVE = (int, float, bool, type(None))


class RedactingFilter(logging.Filter):
    """Redacts secrets in a record's message, arguments, extra fields, exception and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict) and not record.args:
            record.msg = redact_data(record.msg)
        else:
            record.msg = redact(_message(record))
            record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and not isinstance(value, _JSON_NATIVE):
                setattr(record, key, _redacted_value(value))
        if record.exc_info:
            # formatters print exc_text when exc_info is gone; the traceback text is redacted
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class NoJobArguments(logging.Filter):
    """The job queue (procrastinate) logs each job with its arguments: in its call string
    (``proposal.on_host[7](proposal_id=..., comment='Rejected in Slack by ...: <reason>')``) and
    as ``job.task_kwargs``. Arguments can carry people's words, which logs do not keep (as
    request bodies are not logged); the task's name and job id stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = getattr(record, "job", None)
        if not isinstance(job, dict) or "call_string" not in job:
            return True
        named = f"{job.get('task_name', '?')}[{job.get('id', '?')}]"
        record.msg = _message(record).replace(str(job["call_string"]), named)
        record.args = None
        record.job = {k: v for k, v in job.items() if k != "task_kwargs"} | {"call_string": named}
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format: keep both, redacted
        return f"{record.msg} {record.args!r}"


def _redacted_value(value: Any) -> Any:
    if isinstance(value, str | dict | list | tuple):
        return redact_data(value)
    return redact(str(value))


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
    )


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) as JSON lines or text, with secrets redacted.

    Calling it again replaces the handler it installed before, so tests and long-lived
    processes can reconfigure. Returns the handler.
    """
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise InvalidInput(
            f"log_level {settings.log_level!r} is not a level: set TUGBOAT_LOG_LEVEL to "
            "DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(json_formatter() if settings.log_json else logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(NoJobArguments())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler
