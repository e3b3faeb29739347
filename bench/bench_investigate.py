"""Median time of one investigation over the shared examples, against a real Prometheus.

    .venv/bin/python bench/bench_investigate.py [--examples DIR] [--repeat 3]

Prometheus start-up and backfill are not timed; each timed run uses a fresh adapter, so nothing
is answered from the adapter's memo. Target: <= 2 s per investigation on 2 cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inputs import EXAMPLES, bench_data, missing, present

from bot import wiring
from bot.adapters.git.history import LocalGitHistory
from bot.adapters.logs.jsonl import JsonlLogSource
from bot.adapters.prometheus import PrometheusMetrics
from bot.domain.alert import parse_alert_group
from bot.services.investigate import Investigator
from bot.settings import Settings
from testkit.promserver import running_prometheus

DEFAULT_EXAMPLES = bench_data(*EXAMPLES)


def bench_one(scenario: Path, repeat: int) -> tuple[list[float], list[float], int, str]:
    with tempfile.TemporaryDirectory(prefix="bench-inv-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        subprocess.run(
            ["git", "clone", "-q", "-b", "main", str(scenario / "repo.bundle"), str(repo)], check=True
        )
        logs = work / "logs.jsonl"
        with gzip.open(scenario / "logs.jsonl.gz", "rb") as src, open(logs, "wb") as dst:
            shutil.copyfileobj(src, dst)
        at = datetime.fromtimestamp(json.loads((scenario / "scenario.json").read_text())["at"], UTC)
        group = parse_alert_group((scenario / "alert.json").read_bytes())
        times: list[float] = []
        cpu: list[float] = []
        queries = 0
        top = ""
        with running_prometheus(scenario / "metrics.om.gz") as url:
            for _ in range(repeat):
                metrics = PrometheusMetrics(url)
                inv = Investigator(
                    metrics,
                    JsonlLogSource(logs),
                    LocalGitHistory(repo),
                    repo,
                    Settings(),
                    workspace=lambda: wiring.workspace(repo),
                    describe=wiring.changes_classifier(),
                )
                t0, c0 = time.perf_counter(), time.process_time()
                report = inv.run(group, at)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)  # Tugboat's threads; the Prometheus is another process
                queries = metrics.queries_run
                top = f"{report.top.kind.value}/{report.top.service}" if report.top else "-"
        return times, cpu, queries, top


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=Path, default=DEFAULT_EXAMPLES)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not present(args.examples):
        sys.exit(missing("the example scenarios", "--examples"))
    scenarios = sorted(p for p in args.examples.iterdir() if (p / "scenario.json").is_file())
    if not scenarios:
        sys.exit(f"no scenarios under {args.examples}")
    firsts, all_times, all_cpu = [], [], []
    for scenario in scenarios:
        times, cpu, queries, top = bench_one(scenario, args.repeat)
        firsts.append(times[0])
        all_times += times
        all_cpu += cpu
        print(
            f"{scenario.name:40s} median {statistics.median(times):.2f}s  CPU {statistics.median(cpu):.2f}s  "
            f"queries {queries:3d}  top {top}"
        )
    overall, first = statistics.median(all_times), statistics.median(firsts)
    print(
        f"median investigation {overall:.2f}s (first runs {first:.2f}s), "
        f"CPU {statistics.median(all_cpu):.2f}s "
        f"over {len(scenarios)} scenarios x {args.repeat}"
    )


if __name__ == "__main__":
    main()
