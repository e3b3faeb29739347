"""The demo: its recording is what a real Prometheus answers, and it runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.prometheus.recording import RecordingAdapter, ReplayAdapter
from bot.demo.runner import DEMO_PROMETHEUS, DemoData, demo_settings, prepare_repository
from bot.domain.alert import parse_alert_group
from testkit.promserver import running_prometheus

DATA = DemoData.packaged()
RECORDING = DATA.path("prometheus-recording.json.gz")


def _investigate(tmp_path: Path, url: str, transport: object) -> dict[str, object]:
    remote, checkout = prepare_repository(DATA, tmp_path)
    settings = demo_settings(tmp_path, remote, "cli:test")
    investigator = wiring.investigator(
        settings,
        prometheus_url=url,
        logs_file=DATA.path("logs.jsonl.gz"),
        repo=checkout,
        transport=transport,  # type: ignore[arg-type]
    )
    report = investigator.investigate(parse_alert_group(DATA.path("alert.json").read_bytes()), DATA.at).report
    public = report.public()
    for volatile in ("duration_s", "sources"):
        public.pop(volatile, None)
    if public.get("proposal"):
        public["proposal"].pop("id", None)  # type: ignore[union-attr]
    return public


@pytest.mark.prometheus
def test_recording_matches_a_real_prometheus(prometheus_binaries: None, tmp_path: Path) -> None:
    """Re-run the demo investigation against a real Prometheus and compare every exchange.

    With TUGBOAT_RECORD_DEMO=1 (``make record-demo``) the recording is rewritten instead.
    """
    recorder = RecordingAdapter()
    with running_prometheus(DATA.path("metrics.om.gz")) as url:
        live = _investigate(tmp_path / "live", url, recorder)
    if os.environ.get("TUGBOAT_RECORD_DEMO") == "1":
        recorder.save(RECORDING)
    recorded = ReplayAdapter.load(RECORDING).exchanges
    assert recorder.exchanges.keys() == recorded.keys(), "the demo's queries changed: run `make record-demo`"
    for key, exchange in recorder.exchanges.items():
        assert json.loads(exchange["body"]) == json.loads(recorded[key]["body"]), f"answer changed for {key}"
    replayed = _investigate(tmp_path / "replay", DEMO_PROMETHEUS, ReplayAdapter.load(RECORDING))
    assert replayed == live


def test_demo_runs_end_to_end_from_an_empty_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "SLACK", "GITHUB", "TUGBOAT"))}
    env["COLUMNS"] = "120"
    workdir = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--yes", "--workdir", str(workdir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    expected = json.loads(DATA.path("expected.json").read_text())
    assert expected["root_cause"]["service"] in out
    assert "Merged." in out and "audit chain intact" in out
    # the approval line names the branch once, and ends with it (no pull request in the demo)
    [approve_line, *_] = [line for line in out.splitlines() if "Approve approves commit" in line]
    assert approve_line.count("tugboat/") == 1
    assert approve_line.rstrip(" │").split()[-2:-1] == ["branch"]
    log = subprocess.run(
        ["git", "-C", str(workdir / "gitops.git"), "log", "--oneline", "-3", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Merge" in log or "tugboat" in log.lower()
    assert list((workdir / "graphs").glob("*.png")), "the investigation's graphs were rendered"


def test_demo_trail_covers_alert_to_merge(tmp_path: Path) -> None:
    from rich.console import Console

    from bot.adapters.store import SqlStore
    from bot.demo.runner import run_demo

    with open(os.devnull, "w") as sink:
        result = run_demo(Console(file=sink), yes=True, workdir=tmp_path / "d")
    assert result.merged and result.merge_sha
    with SqlStore.open(f"sqlite:///{tmp_path / 'd' / 'tugboat.db'}") as store:
        kinds = [e.kind for e in store.audit_trail()]
    assert kinds == [
        "alert.received",
        "investigation.completed",
        "proposal.created",
        "proposal.opened",
        "proposal.approved",
        "proposal.merged",
    ]
