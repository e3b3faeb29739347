"""``analysis_kinds``: a user replaces a cause kind's thresholds; a wrong one is a clear error."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.analysis.hypotheses import Candidate
from bot.analysis.kinds import KINDS, configured
from bot.analysis.sizing import size
from bot.domain.errors import InvalidInput
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy, Settings

MIB = 2**20
OOM_KILLED = Candidate(
    CauseKind.MEMORY_LIMIT, "api", 0.9, facts={"limit": 256 * MIB, "peak": 255 * MIB, "oom": 3}
)


def test_an_override_changes_what_the_kind_proposes_and_nothing_else() -> None:
    kinds = configured({"memory_limit": {"min_step": 4.0}})
    policy = ApprovalPolicy()
    assert size(OOM_KILLED, policy).value == 512 * MIB  # the default doubles the limit
    assert size(OOM_KILLED, policy, kinds).value == 1024 * MIB
    mine = kinds[CauseKind.MEMORY_LIMIT].settings
    assert mine.model_dump() == {**KINDS[CauseKind.MEMORY_LIMIT].settings.model_dump(), "min_step": 4.0}
    assert all(kinds[k] is KINDS[k] for k in KINDS if k is not CauseKind.MEMORY_LIMIT)


def test_a_nested_override_keeps_the_other_nested_defaults() -> None:
    reading = configured({"cpu_limit": {"reading": {"demand_rise": 3.0}}})[
        CauseKind.CPU_LIMIT
    ].settings.reading  # type: ignore[attr-defined]
    default = KINDS[CauseKind.CPU_LIMIT].settings.reading  # type: ignore[attr-defined]
    assert reading.demand_rise == 3.0
    assert reading.model_copy(update={"demand_rise": default.demand_rise}) == default


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"memory_limt": {}}, "no cause kind named memory_limt (the kinds: bad_deploy, cpu_limit,"),
        (
            {"memory_limit": {"headrom": 2}},
            "analysis_kinds.memory_limit: headrom: Extra inputs are not permitted",
        ),
        ({"cpu_limit": {"reading": {"ended": "high"}}}, "analysis_kinds.cpu_limit: reading.ended:"),
    ],
)
def test_a_threshold_that_does_not_fit_names_the_kind_and_field(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        configured(overrides)
    assert message in str(caught.value)


def test_the_setting_reads_json_from_its_variable_and_reaches_the_investigator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot import wiring

    monkeypatch.setenv("TUGBOAT_ANALYSIS_KINDS", json.dumps({"memory_limit": {"near_limit": 0.8}}))
    settings = Settings()
    assert settings.analysis_kinds == {"memory_limit": {"near_limit": 0.8}}
    investigator = wiring.investigator(settings, repo=None)
    assert investigator.kinds[CauseKind.MEMORY_LIMIT].settings.near_limit == 0.8  # type: ignore[attr-defined]


def test_the_cli_refuses_a_wrong_kind_in_one_line(tmp_path: Path) -> None:
    alert = {
        "status": "firing",
        "groupKey": "{}",
        "alerts": [{"status": "firing", "labels": {"alertname": "X", "app": "web"}}],
    }
    (tmp_path / "alert.json").write_text(json.dumps(alert))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "tugboat"), "investigate", "--alert", "alert.json", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TUGBOAT_ANALYSIS_KINDS": '{"leak": {}}'},
    )
    assert proc.returncode == 2, proc.stderr
    assert "no cause kind named leak" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_refuses_to_start_with_a_threshold_that_does_not_fit(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "TUGBOAT_DATABASE_URL": f"sqlite:///{tmp_path / 'tugboat.db'}",
        "TUGBOAT_ANALYSIS_KINDS": json.dumps({"memory_limit": {"near_limit": "most"}}),
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "tugboat"), "serve", "--http", "--port", str(_free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "analysis_kinds.memory_limit: near_limit:" in proc.stderr and "Traceback" not in proc.stderr


def _fields(settings: dict, prefix: str = "") -> list[str]:
    out = []
    for name, value in settings.items():
        out += _fields(value, f"{prefix}{name}.") if isinstance(value, dict) and name == "reading" else []
        out.append(f"{prefix}{name}")
    return out


def test_every_threshold_is_documented_under_its_name() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "analysis.md").read_text()
    table = doc.split("### Tuning a kind's thresholds", 1)[1].split("\n## ", 1)[0]
    for name, kind in KINDS.items():
        assert f"`{name.value}`" in table
        for field in _fields(kind.settings.model_dump()):
            if field != "reading":
                assert f"`{field}`" in table, f"{name.value}.{field} is not in docs/analysis.md"
