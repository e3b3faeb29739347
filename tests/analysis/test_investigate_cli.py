"""``tugboat investigate``: one JSON document on stdout, one clear line and exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.investigate_cmd import parse_at
from bot.domain.errors import InvalidInput
from bot.settings import ApprovalPolicy

TUGBOAT = str(Path(sys.executable).parent / "tugboat")
ALERT = {
    "version": "4",
    "status": "firing",
    "groupKey": "{}",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "namespace": "shop", "app": "web"},
            "startsAt": "2026-11-25T00:10:30Z",
            "generatorURL": "http://prom/graph?g0.expr=up+%3D%3D+0",
        }
    ],
}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TUGBOAT, "investigate", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_parse_at_accepts_unix_seconds_and_rfc3339() -> None:
    want = datetime(2026, 11, 25, 0, 31, 30, tzinfo=UTC)
    assert parse_at(str(int(want.timestamp()))) == want
    assert parse_at("2026-11-25T00:31:30Z") == want
    assert parse_at("2026-11-25T01:31:30+01:00") == want
    with pytest.raises(InvalidInput, match="RFC 3339"):
        parse_at("yesterday")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alert", "missing.json"], "cannot read the alert file"),
        (["--alert", "garbage.json"], "not JSON"),
        (["--alert", "alert.json", "--at", "soon"], "--at"),
        (["--alert", "alert.json", "--repo", "nowhere"], "--repo"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "alert.json").write_text(json.dumps(ALERT))
    proc = _run(*args, "--json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_json_output_is_one_document_even_without_sources(tmp_path: Path) -> None:
    (tmp_path / "alert.json").write_text(json.dumps(ALERT))
    proc = _run(
        "--alert",
        "alert.json",
        "--prometheus-url",
        "http://127.0.0.1:9",
        "--at",
        "1795566690",
        "--no-llm",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["alert"] == "HighErrorRate" and doc["root_causes"] == []
    assert doc["at"].startswith("2026-11-25T00:31:30")
    status = {s["name"]: s for s in doc["sources"]}
    assert status["prometheus"]["ok"] is False and status["git"]["ok"] is False
    assert doc["summary"]


def test_policy_bounds_every_sized_value() -> None:
    from bot.analysis.hypotheses import Candidate
    from bot.analysis.sizing import size
    from bot.domain.report import CauseKind

    policy = ApprovalPolicy(max_replica_factor=4.0, max_replicas=10, max_cpu_cores=3.0)
    surge = Candidate(
        CauseKind.TRAFFIC_SURGE,
        "api",
        0.9,
        facts={"limit_per_pod": 0.5, "replicas": 4, "usage_total_base": 1.0, "rps_base": 10, "rps_peak": 100},
    )
    assert size(surge, policy).value == 10  # 29 pods wanted, 4x is 16, the policy allows 10
    cpu = Candidate(
        CauseKind.CPU_LIMIT,
        "api",
        0.9,
        facts={"limit_per_pod": 2.0, "usage_per_pod_p95": 2.0, "thr_p95": 0.9},
    )
    assert size(cpu, policy).value == 3.0
    mem = Candidate(
        CauseKind.MEMORY_LIMIT, "api", 0.9, facts={"limit": 256 * 2**20, "peak": 255 * 2**20, "oom": 3}
    )
    assert size(mem, policy).value == 512 * 2**20
