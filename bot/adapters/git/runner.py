"""Run the git CLI and turn its failures into Tugboat errors with readable messages."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bot.domain.errors import SourceTimedOut, SourceUnavailable

# userinfo in a URL (https://user:token@host/...) must never reach a message or a log.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_TIMEOUT_S = 120.0


def redact(text: str) -> str:
    """``text`` with credentials embedded in URLs replaced by ``***``."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)


class GitFailed(SourceUnavailable):
    """A git command exited non-zero. Its output is kept (redacted) for callers that inspect it."""

    def __init__(self, message: str, returncode: int, stderr: str, stdout: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr
        self.stdout = stdout


def git(
    args: Sequence[str],
    cwd: Path | str | None = None,
    *,
    input: str | bytes | None = None,
    config: Sequence[str] = (),
    timeout_s: float = _TIMEOUT_S,
    what: str | None = None,
) -> str:
    """Run ``git <args>`` and return stdout as text; raise ``GitFailed`` on a non-zero exit."""
    return _decode(git_bytes(args, cwd, input=input, config=config, timeout_s=timeout_s, what=what))


def git_bytes(
    args: Sequence[str],
    cwd: Path | str | None = None,
    *,
    input: str | bytes | None = None,
    config: Sequence[str] = (),
    timeout_s: float = _TIMEOUT_S,
    what: str | None = None,
) -> bytes:
    """Like ``git`` but returns raw stdout (file contents may be any encoding)."""
    cmd = ["git"]
    for item in config:
        cmd += ["-c", item]
    cmd += list(args)
    data = input.encode() if isinstance(input, str) else input
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            # A new session has no controlling terminal, so git fails instead of prompting for
            # credentials and hanging a bot that nobody is watching.
            start_new_session=True,
            check=False,
        )
    except FileNotFoundError:
        raise SourceUnavailable(
            "the git command is not installed or not on PATH; install git 2.38+"
        ) from None
    except subprocess.TimeoutExpired:
        raise SourceTimedOut(
            f"git {redact(args[0])} did not finish: timed out after {timeout_s:.1f}s"
            + (f" while {what}" if what else "")
        ) from None
    if proc.returncode != 0:
        stderr = redact(_decode(proc.stderr)).strip()
        detail = _last_lines(stderr) or f"exit status {proc.returncode}"
        doing = what or f"running git {redact(' '.join(args[:2]))}"
        stdout = redact(_decode(proc.stdout))
        raise GitFailed(f"git failed while {doing}: {detail}", proc.returncode, stderr, stdout)
    return proc.stdout


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _last_lines(text: str, n: int = 4) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("hint:")]
    return " / ".join(lines[-n:])
