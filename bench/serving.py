"""Helpers the benchmarks share for the processes they start."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """Return once ``base``'s ``/readyz`` answers 200; exit with the server's stderr if it died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                "tugboat serve exited early: " + (proc.stderr.read().decode() if proc.stderr else "")
            )
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("tugboat serve did not become ready")


def investigate_argv(
    tugboat: str, scenario: Path, prometheus: str, logs: Path, repo: Path, at: object
) -> list[str]:
    """``tugboat investigate`` as the graders run it on one scenario directory."""
    return [
        tugboat,
        "investigate",
        "--alert",
        str(scenario / "alert.json"),
        "--prometheus-url",
        prometheus,
        "--logs-file",
        str(logs),
        "--repo",
        str(repo),
        "--at",
        str(at),
        "--no-llm",
        "--json",
    ]
