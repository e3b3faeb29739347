"""Shared fixtures. Components a test needs are real; when one is missing the test fails
under CI=true and skips with a reason elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = (ROOT.parent / "shared").resolve()
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip with a reason on a developer machine; fail in CI, where everything must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    need(SHARED.is_dir(), f"{SHARED} is absent (the shared/ folder sits beside a development checkout)")
    return SHARED


@pytest.fixture(scope="session")
def prometheus_binaries() -> None:
    from tests.support.promserver import PrometheusMissing, binaries

    try:
        binaries()
    except PrometheusMissing as exc:
        need(False, str(exc))


@pytest.fixture
def tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path
