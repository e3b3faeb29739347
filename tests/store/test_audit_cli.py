"""``tugboat audit show | verify | export`` against real databases."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.adapters.store import SqlStore
from bot.cli.main import app, run
from bot.domain.audit import AuditEvent, AuditKind, verify_trail
from bot.domain.errors import InvalidInput

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def trail(store: SqlStore) -> list[AuditEvent]:
    kinds = [AuditKind.PROPOSAL_CREATED, AuditKind.APPROVED, AuditKind.MERGED]
    return [
        store.append_audit(
            AuditEvent(
                at=T0 + timedelta(minutes=i),
                kind=kind,
                actor=f"U{i}",
                proposal_id="p1" if i else "p0",
                data={"step": i},
            )
        )
        for i, kind in enumerate(kinds)
    ]


def test_show_prints_a_table(trail: list[AuditEvent], store_url: str) -> None:
    result = runner.invoke(app, ["audit", "show", "--database-url", store_url])
    assert result.exit_code == 0, result.output
    assert "proposal created" in result.output and "merged" in result.output
    assert trail[2].hash[:12] in result.output
    assert "2026-03-14 09:02:00" in result.output


def test_show_json_filtered_by_proposal(trail: list[AuditEvent], store_url: str) -> None:
    result = runner.invoke(app, ["audit", "show", "--proposal", "p1", "--json", "--database-url", store_url])
    assert result.exit_code == 0, result.output
    shown = [AuditEvent.model_validate(e) for e in json.loads(result.output)]
    assert shown == trail[1:]


def test_verify_intact_then_broken(trail: list[AuditEvent], store: SqlStore, store_url: str) -> None:
    result = runner.invoke(app, ["audit", "verify", "--database-url", store_url])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "audit trail intact: 3 events"

    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    result = runner.invoke(app, ["audit", "verify", "--database-url", store_url])
    assert result.exit_code == 1
    assert "audit trail BROKEN" in result.output
    assert "event #2 (approved) was altered" in result.output


def test_export_writes_json_lines_that_verify_offline(
    trail: list[AuditEvent], store_url: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["audit", "export", "--database-url", store_url])
    assert result.exit_code == 0, result.output
    from_stdout = [AuditEvent.model_validate_json(line) for line in result.output.splitlines()]
    assert from_stdout == trail

    out = tmp_path / "trail.jsonl"
    result = runner.invoke(app, ["audit", "export", "--output", str(out), "--database-url", store_url])
    assert result.exit_code == 0, result.output
    exported = [AuditEvent.model_validate_json(line) for line in out.read_text().splitlines()]
    assert exported == trail
    assert verify_trail(exported) == []


def test_database_url_comes_from_settings(
    tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch, store_url: str, trail: list[AuditEvent]
) -> None:
    monkeypatch.setenv("TUGBOAT_DATABASE_URL", store_url)
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "3 events" in result.output


def test_empty_trail(tmp_cwd: Path) -> None:
    SqlStore.open("sqlite:///tugboat.db").close()  # the default URL, relative to the cwd
    result = runner.invoke(app, ["audit", "show"])
    assert result.exit_code == 0 and result.output.strip() == "no audit events"
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0 and result.output.strip() == "audit trail intact: 0 events"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql+psycopg://postgres@127.0.0.1:1/tugboat",
            "cannot use the database at postgresql+psycopg://",
        ),
        ("sqlite:///absent.db", "no Tugboat database at"),
        ("not a url", "is not a SQLAlchemy URL"),
        ("mysql://tugboat@127.0.0.1/tugboat", "in SQLite or PostgreSQL, not mysql"),
    ],
)
def test_errors_are_one_line_without_traceback(
    tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    monkeypatch.setattr(sys, "argv", ["tugboat", "audit", "verify", "--database-url", url])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_cwd / "absent.db").exists()


def test_verify_an_export_file(trail: list[AuditEvent], store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "trail.jsonl"
    runner.invoke(app, ["audit", "export", "--output", str(out), "--database-url", store_url])
    result = runner.invoke(app, ["audit", "verify", "--file", str(out)])
    assert result.exit_code == 0 and "intact: 3 events" in result.output

    lines = out.read_text().splitlines()
    out.write_text("\n".join([lines[0], lines[2]]) + "\n")  # drop the middle event
    result = runner.invoke(app, ["audit", "verify", "--file", str(out)])
    assert result.exit_code == 1 and "event #3 (merged) follows #1" in result.output

    out.write_text("not json\n")
    result = runner.invoke(app, ["audit", "verify", "--file", str(out)])
    assert isinstance(result.exception, InvalidInput) and "trail.jsonl:1" in str(result.exception)
