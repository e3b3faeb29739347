"""Wall time of `tugboat investigate`, a process with the default budgets, against slow servers.

    .venv/bin/python bench/bench_deadlines.py

Cases: a Prometheus that accepts connections and never answers; the same with a model endpoint
that sends one byte of its answer every 2 s. Before the budgets these took 93 s and 248 s
(issue 14). Targets: the hanging Prometheus within `investigation_budget_s` (20 s), and the
model's part within `llm_answer_budget_s` (20 s) more, process start-up included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.openai_server import FakeOpenAI
from testkit.slow_servers import dripping_server, hanging_server

ALERT = {
    "version": "4",
    "status": "firing",
    "groupKey": "{}",
    "commonLabels": {"alertname": "HighErrorRate", "namespace": "shop", "app": "checkout"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "namespace": "shop", "app": "checkout"},
            "annotations": {},
            "startsAt": "2026-11-20T12:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph?g0.expr=up%20%3D%3D%200",
        }
    ],
}


def _completion(request: bytes) -> bytes:
    body = json.loads(request.partition(b"\r\n\r\n")[2] or b"{}")
    return json.dumps(FakeOpenAI("The checkout errors began at 12:55 [E1].").completion(body)).encode()


def _investigate(prometheus: str, model: str | None, work: Path) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "TUGBOAT"))}
    if model:
        env |= {"OPENAI_API_KEY": "sk-bench-not-real", "OPENAI_BASE_URL": model}
    alert = work / "alert.json"
    alert.write_text(json.dumps(ALERT))
    cmd = [sys.executable, "-m", "bot", "investigate", "--alert", str(alert), "--prometheus-url", prometheus]
    cmd += ["--at", "2026-11-20T13:00:00Z", "--json"]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=600, check=True)
    return time.monotonic() - started, json.loads(proc.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-deadlines-") as tmp, hanging_server() as prom:
        took, doc = _investigate(prom.url, None, Path(tmp))
        print(f"hanging Prometheus: {took:.1f} s, {prom.connections} connections")
        print("  prometheus:", next(s["detail"] for s in doc["sources"] if s["name"] == "prometheus"))
        with dripping_server(_completion, interval_s=2.0) as model:
            took, doc = _investigate(prom.url, model.url + "/v1", Path(tmp))
        print(f"hanging Prometheus + dripping model: {took:.1f} s")
        print("  notes:", [n for n in doc.get("notes", []) if n.startswith("LLM")], "llm:", doc.get("llm"))


if __name__ == "__main__":
    main()
