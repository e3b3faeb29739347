"""Command line: ``python -m scenariogen OUT_DIR --n 60 --seed 1 [knobs]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from scenariogen.core import generate
from scenariogen.plan import KINDS, LAYOUTS


def _bool(v: str) -> bool:
    if v.lower() in ("1", "yes", "true", "on"):
        return True
    if v.lower() in ("0", "no", "false", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {v!r}")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m scenariogen", description=__doc__)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--n", type=int, default=60, help="number of scenarios (kinds rotate unless --kind)")
    ap.add_argument("--seed", type=int, default=1, help="suite seed; scenario i uses seed*10007+i")
    ap.add_argument("--kind", choices=KINDS)
    ap.add_argument("--layout", choices=LAYOUTS)
    ap.add_argument("--root", help="manifest root, e.g. apps, k8s, clusters/prod/apps, base, charts")
    ap.add_argument("--convention", choices=("classic", "otel"))
    ap.add_argument(
        "--variant", help="bad_deploy: errors|crashloop|leak|latency; traffic_surge: entry|direct"
    )
    ap.add_argument(
        "--alert",
        help="latency_p99|error_ratio|grpc_errors|throttling|cpu_saturation|oom|restarts|crashloop|availability",
    )
    ap.add_argument("--label", help="alert label: service|app|deployment|app.kubernetes.io/name|job")
    ap.add_argument("--downstream", type=_bool, help="alert on a caller of the faulty service (yes/no)")
    ap.add_argument(
        "--two-hops",
        type=_bool,
        help="with --downstream: alert on the caller's caller where one exists (yes/no)",
    )
    ap.add_argument("--quirk", type=_bool, help="dedent the containers list as the examples do (yes/no)")
    ap.add_argument("--hpa", type=_bool, help="give a surging workload an HPA pinned at max (yes/no)")
    ap.add_argument("--distractors", type=_bool, help="unrelated commits and traffic near the onset (yes/no)")
    ap.add_argument("--sidecars", type=_bool)
    ap.add_argument("--grpc", type=_bool, help="also export grpc_server_handled_total (yes/no)")
    ap.add_argument("--bad-change", choices=("image", "config"), help="what the bad_deploy commit changes")
    ap.add_argument("--step", type=int, help="scrape interval in seconds")
    ap.add_argument("--window-min", type=int, help="minutes of history before the investigation time")
    ap.add_argument("--onset-min", type=float, help="minutes between onset and the investigation time")
    ap.add_argument("--n-services", type=int)
    ap.add_argument("--jobs", type=int, default=2)
    return ap


NOT_KNOBS = {"out_dir", "n", "seed", "kind", "jobs"}


def knobs_from(args: argparse.Namespace) -> dict[str, Any]:
    """Every option except the suite's own (out_dir, n, seed, kind, jobs) is a generate() knob."""
    return {k: v for k, v in vars(args).items() if k not in NOT_KNOBS and v is not None}


def _one(job: tuple[Path, int, str, dict[str, Any]]) -> str:
    out, seed, kind, knobs = job
    return str(generate(out, seed, kind, **knobs))


def suite(out: Path, n: int, seed: int, kind: str | None = None, jobs: int = 2, **knobs: Any) -> list[Path]:
    """Generate n scenarios named scn-<seed>-<i>-<kind>; kinds rotate so every kind is covered."""
    todo = []
    for i in range(n):
        k = kind or KINDS[i % len(KINDS)]
        todo.append((out, seed * 10007 + i, k, {**knobs, "name": f"scn-{seed:03d}-{i:03d}-{k}"}))
    if jobs <= 1:
        return [Path(_one(j)) for j in todo]
    with ProcessPoolExecutor(jobs) as pool:
        return [Path(p) for p in pool.map(_one, todo)]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    paths = suite(args.out_dir, args.n, args.seed, args.kind, args.jobs, **knobs_from(args))
    mix: Counter[str] = Counter()
    for p in paths:
        e = json.loads((p / "expected.json").read_text())
        mix[e["root_cause"]["kind"]] += 1
        mix[e["layout"]] += 1
        mix[e["convention"]] += 1
        mix["downstream" if "alerting_service" in e else "direct"] += 1
        mix["quirk" if "quirk" in e else "valid_yaml"] += 1
    print(
        f"wrote {len(paths)} scenarios to {args.out_dir}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(mix.items()))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
