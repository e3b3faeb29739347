"""`tugboat investigate` without --no-llm: the model's narrative becomes the summary, nothing else
changes, and no planted secret reaches the model."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.demo.runner import DemoData, prepare_repository
from testkit.openai_server import fake_openai
from testkit.promserver import running_prometheus

pytestmark = pytest.mark.prometheus
DATA = DemoData.packaged()
SECRET = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def _investigate(
    tmp_path: Path, url: str, logs: Path, checkout: Path, env: dict[str, str], *extra: str
) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "bot",
        "investigate",
        "--alert",
        str(DATA.path("alert.json")),
        "--prometheus-url",
        url,
        "--logs-file",
        str(logs),
        "--repo",
        str(checkout),
        "--at",
        str(DATA.scenario["at"]),
        "--json",
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _logs_with_a_planted_secret(tmp_path: Path) -> Path:
    lines = gzip.decompress(DATA.path("logs.jsonl.gz").read_bytes()).decode().splitlines()
    first = json.loads(lines[0])
    first["line"] = f'level=error msg="push failed" token={SECRET} Authorization: Bearer {SECRET}'
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    return path


def test_model_narrative_becomes_the_summary(prometheus_binaries: None, tmp_path: Path) -> None:
    _, checkout = prepare_repository(DATA, tmp_path / "repo")
    logs = _logs_with_a_planted_secret(tmp_path)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "TUGBOAT"))}
    narrative = "Payments keeps hitting its 768Mi memory limit and is OOMKilled [E1][E2]; raise the limit."
    with running_prometheus(DATA.path("metrics.om.gz")) as url, fake_openai(narrative) as model:
        env = {
            **base_env,
            "OPENAI_API_KEY": "sk-test-not-real",
            "OPENAI_BASE_URL": model.url,
            "TUGBOAT_LLM_MODEL": "local-model",
        }
        with_llm = _investigate(tmp_path, url, logs, checkout, env)
        without = _investigate(tmp_path, url, logs, checkout, env, "--no-llm")
    assert with_llm["summary"].startswith("Payments keeps hitting its 768Mi memory limit")
    assert with_llm["llm"]["model"] == "local-model" and with_llm["llm"]["prompt_tokens"] == 812
    assert without["summary"] != with_llm["summary"] and "llm" not in without
    # the model explains; the deterministic causes and proposal are untouched
    assert with_llm["root_causes"] == without["root_causes"]
    for doc in (with_llm, without):
        doc["proposal"].pop("id")
    assert with_llm["proposal"] == without["proposal"]
    assert len(model.requests) == 1  # --no-llm made no call at all
    sent = json.dumps(model.requests[0]["body"])
    assert SECRET not in sent
    assert model.requests[0]["path"].endswith("/chat/completions")


def test_a_failing_model_falls_back_to_the_deterministic_summary(
    prometheus_binaries: None, tmp_path: Path
) -> None:
    _, checkout = prepare_repository(DATA, tmp_path / "repo")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "TUGBOAT"))}
    with running_prometheus(DATA.path("metrics.om.gz")) as url, fake_openai("unused", status=500) as model:
        env = {
            **base_env,
            "OPENAI_API_KEY": "sk-test-not-real",
            "OPENAI_BASE_URL": model.url,
            "TUGBOAT_LLM_MAX_RETRIES": "0",
        }
        doc = _investigate(tmp_path, url, DATA.path("logs.jsonl.gz"), checkout, env)
    assert doc["root_causes"][0]["kind"] == "memory_limit"
    assert "memory" in doc["summary"].lower()
    assert "LLM unavailable (HTTP 500); showing the deterministic analysis" in doc["notes"]
    assert doc["llm"]["failed_calls"] == 1 and doc["llm"]["calls"] == 0  # the spent call is reported
