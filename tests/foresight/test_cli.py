"""The anomaly-scores and forecast commands, run as a person runs them."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bot.cli.main import run


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def tugboat(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """Runs the console entry point in this process, as `tugboat ARGS...` would."""

    def invoke(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["tugboat", *args])
        with pytest.raises(SystemExit) as stopped:
            run()
        captured = capsys.readouterr()
        return Ran(int(stopped.value.code or 0), captured.out, captured.err)

    return invoke


def _metric_csv(path: Path, n: int = 400) -> Path:
    rng = np.random.default_rng(0)
    lines = ["timestamp,value"]
    for k in range(n):
        stamp = f"2014-04-{1 + k // 288:02d} {(k // 12) % 24:02d}:{(k % 12) * 5:02d}:00"
        lines.append(f"{stamp},{rng.normal(10, 1) + (30 if k == 350 else 0):.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_anomaly_scores_prints_one_row_per_input_row(tmp_path: Path, tugboat: Callable[..., Ran]) -> None:
    result = tugboat("anomaly-scores", "--input", str(_metric_csv(tmp_path / "m.csv")))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 400
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score"]
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    assert np.all((scores >= 0) & (scores <= 1))
    assert int(np.argmax(scores)) in range(350, 353)


def test_anomaly_scores_accepts_unix_and_rfc3339(tmp_path: Path, tugboat: Callable[..., Ran]) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("timestamp,value\n1700000000,1\n2023-11-14T22:14:20Z,2\n2023-11-14T23:14:20+01:00,3\n")
    result = tugboat("anomaly-scores", "--input", str(path))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 4


def test_forecast_prints_each_series_and_step(tmp_path: Path, tugboat: Callable[..., Ran]) -> None:
    lines = ["series,timestamp,value"]
    for name, level in (("api", 100.0), ("db", 5.0)):
        for k in range(24 * 10):
            lines.append(
                f"{name},{1.7e9 + 3600 * k:.0f},{level + level / 4 * np.sin(2 * np.pi * k / 24):.3f}"
            )
    path = tmp_path / "load.csv"
    path.write_text("\n".join(lines) + "\n")
    result = tugboat("forecast", "--input", str(path), "--horizon", "6")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["series"], int(r["step"])) for r in rows] == [
        (s, k) for s in ("api", "db") for k in range(1, 7)
    ]
    for r in rows:
        assert float(r["lower"]) <= float(r["forecast"]) <= float(r["upper"])


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ("anomaly-scores",), "input file not found"),
        ("time,value\n1,2\n", ("anomaly-scores",), "missing column(s) timestamp"),
        ("timestamp,value\n1,2\n2,abc\n", ("anomaly-scores",), "line 3: value 'abc' is not a number"),
        ("timestamp,value\nyesterday,2\n", ("anomaly-scores",), "timestamp 'yesterday' is not unix seconds"),
        ("series,timestamp,value\na,1,2\n", ("forecast", "--horizon", "0"), "--horizon must be a positive"),
        ("timestamp,value\n1,2\n", ("forecast", "--horizon", "3"), "missing column(s) series"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    tmp_path: Path, tugboat: Callable[..., Ran], content: str | None, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_text(content)
    result = tugboat(*args, "--input", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_console_script_reports_bad_input_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli.main import run; run()",
            "anomaly-scores",
            "--input",
            "nope.csv",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: input file not found: nope.csv"
