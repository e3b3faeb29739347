"""Run the git CLI and turn its failures into Tugboat errors with readable messages."""

from __future__ import annotations

import os
import random
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from bot.domain.errors import SourceTimedOut, SourceUnavailable

# userinfo in a URL (https://user:token@host/...) must never reach a message or a log.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
# An absolute path on this machine (not the path part of a URL): people read its last part only.
_LOCAL_PATH = re.compile(r"(?P<pre>file://|(?<![\w.:@/~-]))(?P<path>/[^\s'\"`,;()]+)")
# A git command that no configured budget bounds (one-off tools, tests) still ends.
DEFAULT_TIMEOUT_S = 120.0
# A push refused because the ref moved or was being updated by another push: fetch and retry.
_PUSH_RACES = ("[rejected]", "stale info", "cannot lock ref", "failed to update ref", "fetch first")


def redact(text: str) -> str:
    """``text`` with credentials embedded in URLs replaced by ``***`` and local paths shortened
    to their last part, so messages and logs show neither secrets nor the server's layout."""
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    return _LOCAL_PATH.sub(lambda m: m["pre"] + _short_path(m["path"]), text)


def _short_path(path: str) -> str:
    name = PurePosixPath(path).name
    return f"…/{name}" if name else path


def race_pause(attempt: int) -> None:
    """Wait a little, more after each lost race, with jitter so racing replicas spread out."""
    time.sleep(min(2.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))


def push_refused(exc: GitFailed) -> bool:
    """Whether the remote refused a push for good (a hook, a protected or checked-out branch):
    retrying cannot help, and the remote is reachable."""
    return "[remote rejected]" in exc.stderr and not push_raced(exc)


def push_raced(exc: GitFailed) -> bool:
    """Whether a failed push lost a race (non-fast-forward, stale lease, ref lock), which a fetch
    and a retry resolve, as opposed to a refusal or an unreachable host."""
    return any(sign in exc.stderr for sign in _PUSH_RACES)


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
    timeout_s: float = DEFAULT_TIMEOUT_S,
    what: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run ``git <args>`` and return stdout as text; raise ``GitFailed`` on a non-zero exit.
    ``env`` is added to the environment (e.g. credentials, which never go on the command line)."""
    return _decode(git_bytes(args, cwd, input=input, config=config, timeout_s=timeout_s, what=what, env=env))


def git_bytes(
    args: Sequence[str],
    cwd: Path | str | None = None,
    *,
    input: str | bytes | None = None,
    config: Sequence[str] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    what: str | None = None,
    env: Mapping[str, str] | None = None,
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
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            check=False,
        )
    except (FileNotFoundError, NotADirectoryError):
        if cwd is not None and not Path(cwd).is_dir():
            raise SourceUnavailable(f"git cannot run in {redact(str(cwd))}: no such directory") from None
        raise SourceUnavailable(
            "the git command is not installed or not on PATH; install git 2.38+"
        ) from None
    except subprocess.TimeoutExpired:
        raise SourceTimedOut(
            f"git {redact(args[0])} did not finish: timed out after {timeout_s:.1f}s"
            + (f" while {redact(what)}" if what else "")
        ) from None
    if proc.returncode != 0:
        stderr = redact(_decode(proc.stderr)).strip()
        detail = _last_lines(stderr) or f"exit status {proc.returncode}"
        doing = redact(what) if what else f"running git {redact(' '.join(args[:2]))}"
        stdout = redact(_decode(proc.stdout))
        raise GitFailed(f"git failed while {doing}: {detail}", proc.returncode, stderr, stdout)
    return proc.stdout


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _last_lines(text: str, n: int = 4) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("hint:")]
    return " / ".join(lines[-n:])
