"""Real recorded incidents (PetShop train cases, CC-BY-4.0; tests/fixtures/petshop/README.md):
the deterministic analysis names the labelled root cause first, against a real Prometheus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.promserver import running_prometheus

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "petshop"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


@pytest.mark.parametrize("case", CASES)
def test_petshop_case_names_the_labelled_root_cause_first(
    case: str, tmp_path: Path, prometheus_binaries: None
) -> None:
    d = FIXTURES / case
    at = json.loads((d / "scenario.json").read_text())["at"]
    repo, logs = tmp_path / "repo", tmp_path / "logs.jsonl"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(d / "repo.bundle"), str(repo)], check=True)
    logs.write_text("")
    tugboat = str(Path(sys.executable).with_name("tugboat"))
    with running_prometheus(d / "metrics.om.gz") as url:
        cmd = [tugboat, "investigate", "--alert", str(d / "alert.json"), "--prometheus-url", url]
        cmd += ["--logs-file", str(logs), "--repo", str(repo), "--at", str(at), "--no-llm", "--json"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    out = json.loads(done.stdout)
    want = json.loads((d / "expected.json").read_text())["root_cause"]["service"]
    assert out["root_causes"][0]["service"] == want
    assert (out.get("proposal") or {}).get("action") in (None, "none")  # no change in git to revert
    conf = [rc["confidence"] for rc in out["root_causes"]]
    assert conf == sorted(conf, reverse=True)
