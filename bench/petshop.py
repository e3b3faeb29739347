"""PetShop root-cause benchmark: real CloudWatch metrics of a microservice application on EKS.

    .venv/bin/python bench/petshop.py --source DIR [--out DIR] [--tugboat .venv/bin/tugboat] [--report FILE]

DIR is a checkout (or the bare git directory) of amazon-science/petshop-root-cause-analysis.
Its ``train`` cases only are read; the ``test`` cases are left alone (the project is graded on
held-out real data). Data: CC-BY-4.0, Amazon.com, Inc. or its affiliates.

Each case is converted to a scenario in the shared format: every component of the call graph
becomes a workload (its name made Kubernetes-like), ``requests`` (Sum) and ``availability`` become
``http_requests_total{service,code}``, the latency percentiles a summary
``http_request_duration_seconds{quantile}``, and each call-graph edge ``http_client_requests_total
{service,peer,code}`` carrying the callee's requests and errors (the dataset has no per-edge
counts). The five 5-minute CloudWatch periods are held over 30 s samples. The alert fires on the
target (PetSite's latency or availability) at the target's timestamp, and the investigation runs as
of the end of the first whole period after it; the GitOps repository has a
plain manifest per component and no change near the incident (the faults were injected through
SSM parameters, outside git).

Reported: AC@1, AC@3 and Avg@5 on the root-cause component, beside a z-score baseline in the same
run (the component whose metrics deviate most after the alert from before it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.petshop_convert import Source, convert, zscore_ranking
from bench.serving import investigate_argv


def investigate(d: Path, tugboat: str) -> tuple[list[str], float]:
    """The services tugboat ranks, best first (each once), and the seconds it took."""
    from testkit.promserver import running_prometheus

    sc = json.loads((d / "scenario.json").read_text())
    with tempfile.TemporaryDirectory(prefix="petshop-") as tmp:
        repo, logs = Path(tmp) / "repo", Path(tmp) / "logs.jsonl"
        subprocess.run(["git", "clone", "-q", "-b", "main", str(d / "repo.bundle"), str(repo)], check=True)
        logs.write_text("")
        with running_prometheus(d / "metrics.om.gz") as url:
            cmd = investigate_argv(tugboat, d, url, logs, repo, sc["at"])
            t0 = time.monotonic()
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            seconds = time.monotonic() - t0
    out = json.loads(p.stdout) if p.returncode == 0 else {}
    ranked: list[str] = []
    for rc in out.get("root_causes") or []:
        if rc.get("service") and rc["service"] not in ranked:
            ranked.append(rc["service"])
    return ranked, seconds


def accuracy(ranks: list[int | None]) -> dict[str, float]:
    """AC@k: the share of cases with the root cause in the top k; Avg@5: the mean of AC@1..AC@5."""
    n = max(len(ranks), 1)
    ac = {k: sum(1 for r in ranks if r is not None and r <= k) / n for k in range(1, 6)}
    return {"AC@1": ac[1], "AC@3": ac[3], "Avg@5": sum(ac.values()) / 5}


def _rank(ranked: list[str], want: str) -> int | None:
    return ranked.index(want) + 1 if want in ranked else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, required=True, help="checkout or bare git dir of the dataset")
    ap.add_argument("--out", type=Path, help="keep the converted scenarios here")
    ap.add_argument("--tugboat", default=str(Path(sys.executable).with_name("tugboat")))
    ap.add_argument("--report", type=Path)
    a = ap.parse_args(argv)
    source = Source(a.source)
    cases = source.train_cases()
    if not cases:
        print(f"no train cases under {a.source}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="petshop-suite-") as tmp:
        out = a.out or Path(tmp)
        rows = []
        for case in cases:
            d = convert(source, case, out)
            want = json.loads((d / "expected.json").read_text())["root_cause"]["service"]
            ranked, seconds = investigate(d, a.tugboat)
            base = zscore_ranking(source, case)
            row = {
                "case": d.name,
                "root_cause": want,
                "tugboat": ranked[:5],
                "tugboat_rank": _rank(ranked, want),
                "zscore": base[:5],
                "zscore_rank": _rank(base, want),
                "seconds": round(seconds, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    ours, theirs = accuracy([r["tugboat_rank"] for r in rows]), accuracy([r["zscore_rank"] for r in rows])
    secs = sorted(r["seconds"] for r in rows)
    print(f"petshop train: {len(rows)} cases, median {secs[len(secs) // 2]:.1f}s per investigation")
    for name, acc in (("tugboat", ours), ("z-score baseline", theirs)):
        print(f"  {name:<17} " + "  ".join(f"{k} {v:.2f}" for k, v in acc.items()))
    if a.report:
        a.report.write_text(json.dumps({"cases": rows, "tugboat": ours, "zscore": theirs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
