"""The incident shipped with ``tugboat demo`` (bot/demo/data): small, clear and reproducible.

    .venv/bin/python -m scenariogen.demo [DEST]   # default: bot/demo/data

A memory_limit incident on a plain layout with valid YAML: 4 services, 90 minutes at 30 s.
The shipped files came from the generator as of commit 68ed803; the generator has grown since, so
running this writes different bytes, and tests/demo's recorded Prometheus answers must then be
re-recorded. The shipped data is checked for what matters instead (scenariogen).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from scenariogen.core import generate

DEMO_SEED = 4
DEMO_KNOBS: dict[str, Any] = {
    "layout": "plain",
    "root": "apps",
    "quirk": False,
    "n_services": 4,
    "window_min": 90,
    "step": 30,
    "downstream": False,
    "sidecars": False,
    "grpc": False,
    "alert": "oom",
    "compact": True,
    "name": "demo",
}
FILES = ("alert.json", "metrics.om.gz", "logs.jsonl.gz", "repo.bundle", "scenario.json", "expected.json")
DEST = Path(__file__).resolve().parents[1] / "bot" / "demo" / "data"


def write_demo(dest: Path = DEST) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="demo-") as tmp:
        src = generate(tmp, DEMO_SEED, "memory_limit", **DEMO_KNOBS)
        for name in FILES:
            shutil.copyfile(src / name, dest / name)
    return dest


if __name__ == "__main__":
    print(write_demo(Path(sys.argv[1]) if len(sys.argv) > 1 else DEST))
