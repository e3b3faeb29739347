"""Evaluate ``tugboat investigate`` on generated incidents, graded like the shared grader.

    .venv/bin/python bench/rca_eval.py --n 60 --seed 1 [--tugboat .venv/bin/tugboat] [--kind K]
        [--suite DIR (reuse or keep scenarios)] [--report FILE] [--tolerant]

Generates scenarios into a temporary directory (or --suite), serves each one's metrics from a real
Prometheus backfilled with promtool, runs the command, and prints one JSON line per scenario, then
a summary line like grade.py's and a breakdown per kind, layout, convention and alert style.
Errors of the command (missing subcommand, crashes, timeouts) are reported, never raised.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serving import investigate_argv
from scenariogen.cli import suite
from scenariogen.grading import grade
from testkit.promserver import running_prometheus


def run_one(path: Path, tugboat: str, timeout: int, tolerant: bool) -> dict[str, Any]:
    sc = json.loads((path / "scenario.json").read_text())
    exp = json.loads((path / "expected.json").read_text())
    res: dict[str, Any] = {
        "name": sc["name"],
        "kind": exp["root_cause"]["kind"],
        "layout": exp["layout"],
        "convention": exp["convention"],
        "alert": exp.get("alert"),
        "downstream": "alerting_service" in exp,
        "quirk": "quirk" in exp,
        "variants": exp.get("variants", []),
        "top1": False,
        "top3": False,
        "remediation": False,
        "diff_ok": None,
        "seconds": None,
        "confidence": None,
        "error": None,
    }
    with tempfile.TemporaryDirectory(prefix="rca-eval-") as tmp:
        repo = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", "-b", "main", str(path / "repo.bundle"), str(repo)], check=True)
        for k, v in (("user.email", "eval@example.com"), ("user.name", "eval")):
            subprocess.run(["git", "-C", str(repo), "config", k, v], check=True)
        logs = Path(tmp) / "logs.jsonl"
        with gzip.open(path / "logs.jsonl.gz", "rb") as a, open(logs, "wb") as b:
            shutil.copyfileobj(a, b)
        try:
            with running_prometheus(path / "metrics.om.gz") as url:
                cmd = investigate_argv(tugboat, path, url, logs, repo, sc["at"])
                env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "SLACK", "GITHUB"))}
                t0 = time.monotonic()
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
                res["seconds"] = round(time.monotonic() - t0, 2)
        except subprocess.TimeoutExpired:
            res["error"] = f"timeout {timeout}s"
            return res
        except (OSError, RuntimeError) as exc:
            res["error"] = f"{type(exc).__name__}: {exc}"
            return res
        if p.returncode != 0:
            res["error"] = f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}"
            return res
        try:
            out = json.loads(p.stdout)
        except json.JSONDecodeError:
            res["error"] = "stdout is not one JSON document: " + p.stdout[:200]
            return res
        causes = out.get("root_causes") or []
        res["confidence"] = causes[0].get("confidence") if causes else None
        try:
            res.update(grade(out, exp, repo, tolerant=tolerant))
        except Exception as exc:  # a grading failure is a finding about this scenario, not a crash
            res["error"] = f"grader: {type(exc).__name__}: {exc}"
    return res


def _count(results: list[dict[str, Any]], key: str) -> int:
    return sum(bool(r[key]) for r in results)


def calibration_error(results: list[dict[str, Any]], bins: int = 10) -> float:
    """Expected calibration error of the top cause's confidence against top-1 being right:
    the share-weighted gap between mean confidence and accuracy in ten equal-width bins."""
    pairs = [(float(r["confidence"]), bool(r["top1"])) for r in results if r.get("confidence") is not None]
    if not pairs:
        return float("nan")
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(c, ok) for c, ok in pairs if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if inside:
            conf = sum(c for c, _ in inside) / len(inside)
            acc = sum(ok for _, ok in inside) / len(inside)
            total += abs(conf - acc) * len(inside) / len(pairs)
    return total


def summary(results: list[dict[str, Any]]) -> list[str]:
    n = len(results)
    diffs = [r["diff_ok"] for r in results if r["diff_ok"] is not None]
    secs = [r["seconds"] for r in results if r["seconds"] is not None]
    med = f"{statistics.median(secs):.1f}s" if secs else "n/a"
    top1, top3, rem = (sum(bool(r[k]) for r in results) for k in ("top1", "top3", "remediation"))
    lines = [
        f"rca top1 {top1}/{n} top3 {top3}/{n} remediation {rem}/{n} diff_ok {sum(diffs)}/{len(diffs)} "
        f"errors {sum(1 for r in results if r['error'])} median {med} ECE {calibration_error(results):.3f}"
    ]
    for key in ("kind", "layout", "convention", "alert", "downstream", "quirk"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in results:
            groups[str(r[key])].append(r)
        parts = [
            f"{g}: top1 {_count(rs, 'top1')}/{len(rs)} rem {_count(rs, 'remediation')}/{len(rs)}"
            for g, rs in sorted(groups.items())
        ]
        lines.append(f"  by {key:<10} " + "; ".join(parts))
    variants = sorted({v for r in results for v in r.get("variants", [])})
    parts = []
    for v in variants:
        rs = [r for r in results if v in r.get("variants", [])]
        parts.append(f"{v}: top1 {_count(rs, 'top1')}/{len(rs)} rem {_count(rs, 'remediation')}/{len(rs)}")
    if parts:
        lines.append("  by variant    " + "; ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kind")
    ap.add_argument("--tugboat", default=str(Path(sys.executable).with_name("tugboat")))
    ap.add_argument("--suite", type=Path, help="generate into (or reuse scenarios already in) this directory")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--jobs", type=int, default=2, help="parallel generation")
    ap.add_argument("--report", type=Path, help="write every result as JSON here")
    ap.add_argument("--min-top1", type=float, default=0.0, help="exit 1 when the top-1 share is below this")
    ap.add_argument("--min-remediation", type=float, default=0.0)
    ap.add_argument(
        "--tolerant",
        action="store_true",
        help="read manifests with the dedented-containers quirk (grade.py itself does not)",
    )
    a = ap.parse_args(argv)
    tmp = None
    if a.suite is None:
        tmp = tempfile.mkdtemp(prefix="rca-suite-")
        a.suite = Path(tmp)
    try:
        a.suite.mkdir(parents=True, exist_ok=True)
        paths = sorted(p for p in a.suite.iterdir() if (p / "expected.json").is_file())
        if not paths:
            paths = sorted(suite(a.suite, a.n, a.seed, a.kind, a.jobs))
        results = []
        for p in paths:
            r = run_one(p, a.tugboat, a.timeout, a.tolerant)
            results.append(r)
            print(json.dumps(r), flush=True)
        if a.report:
            a.report.write_text(json.dumps(results, indent=1))
        print("\n".join(summary(results)))
        n = max(1, len(results))
        ok = (
            _count(results, "top1") / n >= a.min_top1
            and _count(results, "remediation") / n >= a.min_remediation
        )
        return 0 if results and ok else 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
