"""Doctor tests see only what they set: no tugboat.yaml, no variables from the developer's shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings

SECRET_NAMES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets counts: no tugboat.yaml, no variables from the developer's shell."""
    monkeypatch.chdir(tmp_path)
    for name in [*Settings.model_fields, "config"]:
        monkeypatch.delenv(f"TUGBOAT_{name.upper()}", raising=False)
    for name in (*SECRET_NAMES, "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
