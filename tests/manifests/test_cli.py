"""``tugboat manifest set`` through the real console entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TEXT = (
    "apiVersion: apps/v1\r\nkind: Deployment\r\nmetadata:\r\n  name: checkout\r\nspec:\r\n"
    "  replicas: 1  # owned by on-call\r\n  template:\r\n    spec:\r\n      containers:\r\n"
    "      - name: checkout\r\n        image: registry.example.com/shop/checkout:1.0.0\r\n"
    '        resources:\r\n          limits:\r\n            cpu: "1"\r\n'
)


def tugboat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-c", "from bot.cli.main import run; run()", *args],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    # decoded by hand: text=True would turn the CRLF of a diff into LF
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(), out.stderr.decode())


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "deployment.yaml"
    path.write_bytes(TEXT.encode())
    return path


def test_set_field_in_place(manifest: Path) -> None:
    out = tugboat("manifest", "set", str(manifest), "--resource", "Deployment/checkout",
                  "--field", "cpu-limit", "--value", "1500m", cwd=manifest.parent)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert manifest.read_bytes().decode() == TEXT.replace('cpu: "1"', 'cpu: "1500m"')


def test_set_path_with_diff_leaves_the_file_alone(manifest: Path) -> None:
    out = tugboat("manifest", "set", "deployment.yaml", "--path", "spec.replicas", "--value", "4", "--diff",
                  cwd=manifest.parent)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert manifest.read_bytes().decode() == TEXT
    assert "-  replicas: 1  # owned by on-call\r\n+  replicas: 4  # owned by on-call\r\n" in out.stdout
    subprocess.run(["git", "init", "-q"], cwd=manifest.parent, check=True)
    applied = subprocess.run(["git", "apply", "-"], cwd=manifest.parent, input=out.stdout.encode(),
                             capture_output=True, check=False)  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert manifest.read_bytes().decode() == TEXT.replace("replicas: 1 ", "replicas: 4 ")


def test_new_key_by_path_is_typed(manifest: Path) -> None:
    out = tugboat("manifest", "set", str(manifest), "--path",
                  "spec.template.spec.containers[name=checkout].resources.limits.memory", "--value", "1Gi",
                  cwd=manifest.parent)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert manifest.read_bytes().decode() == TEXT + "            memory: 1Gi\r\n"
    out = tugboat("manifest", "set", str(manifest), "--path", "spec.minReadySeconds", "--value", "10",
                  cwd=manifest.parent)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "  minReadySeconds: 10\r\n" in manifest.read_bytes().decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--resource", "Deployment/nope", "--field", "replicas", "--value", "2"],
            "Deployment/nope is not in",
        ),
        (["--resource", "Deployment/checkout", "--field", "color", "--value", "2"], "unknown field 'color'"),
        (["--resource", "Deployment/checkout", "--field", "replicas", "--value", "two"], "whole number"),
        (["--resource", "Deployment/checkout", "--field", "memory-limit", "--value", "lots"], "quantity"),
        (["--path", "spec.nothing[0]", "--value", "2"], "spec.nothing is not there"),
        (["--path", "spec.replicas", "--resource", "Deployment/checkout", "--value", "2"], "either"),
        (["--value", "2"], "either"),
    ],
)
def test_bad_input_is_one_line_without_traceback(manifest: Path, args: list[str], message: str) -> None:
    out = tugboat("manifest", "set", str(manifest), *args, cwd=manifest.parent)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error: ") and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert manifest.read_bytes().decode() == TEXT


def test_missing_file(tmp_path: Path) -> None:
    out = tugboat("manifest", "set", "nope.yaml", "--path", "a", "--value", "1", cwd=tmp_path)
    assert out.returncode == 2 and "is not a file" in out.stderr and "Traceback" not in out.stderr


def test_effective_and_plan_on_a_repository(tmp_path: Path) -> None:
    (tmp_path / "apps/checkout").mkdir(parents=True)
    (tmp_path / "apps/checkout/deployment.yaml").write_bytes(TEXT.encode())
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    out = tugboat("manifest", "effective", ".", "checkout", "--field", "cpu", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert (found["file"], found["value"], found["container"]) == (
        "apps/checkout/deployment.yaml",
        1.0,
        "checkout",
    )
    out = tugboat(
        "manifest", "plan", ".", "checkout", "--field", "memory", "--value", "1.5Gi", "--json", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    planned = json.loads(out.stdout)
    assert planned["changes"] == [
        {"file": "apps/checkout/deployment.yaml", "field": "memory", "from": None, "to": 1536 * 2**20,
         "resource": "Deployment/checkout", "container": "checkout"}
    ]  # fmt: skip
    applied = subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=planned["diff"].encode(), check=False)
    assert applied.returncode == 0
    out = tugboat("manifest", "plan", ".", "nope", "--field", "replicas", "--value", "3", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: no workload named 'nope'")
