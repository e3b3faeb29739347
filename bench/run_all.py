"""Run every benchmark once and print their figures (``make bench``).

Benchmarks that read the example scenarios or NAB run only when ``TUGBOAT_BENCH_DATA`` names the
directory that holds them (``bench/inputs.py``); each benchmark is its own process so one failing
does not hide the others. The PetShop benchmark runs when PETSHOP_DATASET names a clone of the
dataset.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from inputs import ENV, bench_data, present  # noqa: E402

BENCHMARKS: list[tuple[str, list[str], bool]] = [
    # (name, arguments, needs the data in TUGBOAT_BENCH_DATA)
    ("investigation time (examples, real Prometheus)", ["bench/bench_investigate.py"], True),
    ("root-cause accuracy (generated incidents)", ["bench/rca_eval.py", "--n", "20", "--seed", "1"], False),
    ("log templates (100k lines)", ["bench/bench_logs.py"], False),
    ("LLM calls and prompt tokens", ["bench/bench_llm_tokens.py"], False),
    ("Slack acknowledgement latency", ["bench/bench_slack_ack.py"], False),
    ("Slack acknowledgement latency, Socket Mode", ["bench/bench_socket_ack.py"], False),
    ("anomaly detection (NAB subset, leave-one-group-out)", ["bench/nab_score.py", "--logo"], True),
    ("forecasting (MASE)", ["bench/forecast_eval.py"], False),
    ("capacity forecasts", ["bench/bench_capacity.py"], False),
    ("capacity job backtest", ["bench/capacity_backtest.py"], False),
    ("job queue latency and throughput", ["bench/bench_jobs.py"], False),
    ("investigate against slow dependencies", ["bench/bench_deadlines.py"], False),
    ("alert storm (10,000 alerts)", ["bench/bench_alert_storm.py"], False),
]


def main() -> int:
    failed = []
    benchmarks = list(BENCHMARKS)
    if os.environ.get("PETSHOP_DATASET"):  # a clone of amazon-science/petshop-root-cause-analysis
        petshop = ["bench/petshop.py", "--source", os.environ["PETSHOP_DATASET"]]
        benchmarks.append(("root cause on PetShop (real metrics)", petshop, False))
    for name, args, needs_data in benchmarks:
        print(f"\n=== {name}: {' '.join(args)}", flush=True)
        if needs_data and not present(bench_data()):
            print(f"skipped: {ENV} does not name the benchmark data")
            continue
        started = time.monotonic()
        code = subprocess.call([sys.executable, *args], cwd=ROOT)
        print(f"--- {name}: exit {code} after {time.monotonic() - started:.0f}s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print("\nfailed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
