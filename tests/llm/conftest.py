"""Fixtures for the model tests; the cassette harness is testkit.openai_cassettes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from testkit.openai_cassettes import REAL_KEY


@pytest.fixture
def llm_settings(tmp_cwd: Path) -> Callable[..., Settings]:
    """Settings for model tests: a real key when re-recording, a fake one otherwise."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "openai_api_key": REAL_KEY or "sk-test-not-a-real-key-0000000000000000",
            "llm_model": "gpt-4.1-mini",
            "llm_max_retries": 2,
            "llm_timeout_s": 10.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make
