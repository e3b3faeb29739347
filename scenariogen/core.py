"""generate(): one scenario directory in the shared format, from a seed and optional knobs."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from scenariogen import names
from scenariogen.alerting import NoSeparation, Rule, Rules, fires, payload, threshold
from scenariogen.extras import pod_level_cgroups, staging_copies
from scenariogen.history import Event, build_repo, plan_events, workloads
from scenariogen.logs import write_logs
from scenariogen.metrics import build_store
from scenariogen.openmetrics import Store
from scenariogen.plan import Plan, make_plan
from scenariogen.sim import SvcSim, simulate
from scenariogen.variants import active_variants

FOR_SECONDS = {"ContainerOOMKilled": 0, "KubePodCrashLooping": 300, "CPUThrottlingHigh": 300}


def _quiet_until(plan: Plan, sim_steps_per_min: float) -> int:
    i_on = plan.index(plan.onset)
    if plan.kind == "bad_deploy":
        return min(i_on, int(plan.extra.get("rollout_index", i_on)))
    if plan.kind in ("cpu_limit", "memory_limit"):
        return max(2, i_on - int(30 * sim_steps_per_min))
    return i_on


def choose_alert(plan: Plan, store: Store) -> tuple[Rule, float, int]:
    rule = Rules(plan, store).rule(plan.alerting)
    n = len(store.ts)
    quiet = _quiet_until(plan, 60 / plan.step)
    end = plan.index(int(plan.extra["spike_end"])) + 2 if plan.kind == "transient" else n
    t = threshold(plan, rule, quiet, plan.index(plan.onset), end)
    first = next((i for i in range(quiet, n) if fires(rule, t, i)), None)
    if first is None:
        raise NoSeparation("the rule never fires")
    if plan.kind != "transient" and not fires(rule, t, n - 1):
        raise NoSeparation("the rule does not fire at the investigation time")
    if plan.kind == "transient" and fires(rule, t, n - 1):
        raise NoSeparation("the transient has not cleared")
    starts = int(store.ts[first]) + FOR_SECONDS.get(rule.name, 120)
    return rule, t, min(starts, plan.at - plan.step)


def _peak(arr: np.ndarray, w: int) -> float:
    smooth = np.convolve(np.nan_to_num(arr), np.ones(w) / w, mode="valid")
    return float(smooth.max()) if len(smooth) else float(np.nanmax(arr))


def remediation(plan: Plan, world: dict[str, SvcSim], events: list[Event]) -> dict[str, Any]:
    s, ss = plan.svc(plan.culprit), world[plan.culprit]
    w = max(2, 300 // plan.step)
    i_on = plan.index(plan.onset)
    if plan.kind == "transient":
        return {"action": "none"}
    if plan.kind == "bad_deploy":
        bad = next(e for e in events if e.args.get("bad"))
        return {"action": "revert", "service": s.name, "commit": bad.sha, "commit_message": bad.message}
    if plan.kind == "traffic_surge":
        need = ss.demand * ss.cpr + s.idle_cpu * ss.spec  # cores the workload would use unthrottled
        cores = _peak(need[i_on:], w)
        current = int(ss.spec[-1])
        lo = max(math.ceil(cores / s.cpu_limit), current + 1)
        hi = max(math.ceil(cores / (0.3 * s.cpu_limit)), lo + 5, 2 * lo)
        field = "hpa.maxReplicas" if s.hpa else "replicas"
        return {"action": "scale", "service": s.name, "field": field, "min_value": lo, "max_value": hi}
    if plan.kind == "cpu_limit":
        used = max(_peak(p.cpu[i_on:], w) for p in ss.pods)
        return {
            "action": "set_cpu_limit",
            "service": s.name,
            "field": "cpu",
            "min_value": round(max(used * 1.1, s.cpu_limit * 1.05), 3),
            "max_value": round(min(max(6 * s.cpu_limit, 4.0), 16.0), 3),
        }
    peak = max(float(np.nanmax(p.ws)) for p in ss.pods)
    return {
        "action": "set_memory_limit",
        "service": s.name,
        "field": "memory",
        "min_value": int(max(peak, s.mem_limit * 0.95) * 1.15),
        "max_value": int(min(max(6 * s.mem_limit, 4 * 2**30), 32 * 2**30)),
    }


def _decorate(plan: Plan, store: Store) -> None:
    """Series that do not change the incident but trip naive queries; added after the alert is chosen."""
    rng = random.Random(plan.seed * 59 + 3)
    quiet_end = plan.index(plan.onset) - 20 * 60 // plan.step
    if rng.random() < 0.3 and quiet_end > 20:
        i = rng.randrange(10, quiet_end)
        store.gaps = set(range(i, i + rng.randint(1, 2)))
    if rng.random() < 0.35 and not plan.extra.get("compact"):
        pod_level_cgroups(store)
    callers = {plan.culprit}
    for s in reversed(plan.services):  # everything that reaches the culprit shows symptoms
        if set(s.callees) & callers:
            callers.add(s.name)
    healthy = [s.name for s in plan.services if s.name not in callers and s.name != plan.alerting]
    if healthy and rng.random() < 0.3 and not plan.extra.get("compact"):
        plan.extra["staging"] = staging_copies(plan, store, rng.sample(healthy, min(2, len(healthy))))


def generate(out_dir: Path | str, seed: int, kind: str | None = None, **knobs: Any) -> Path:
    """Write one scenario directory under out_dir and return its path."""
    out_dir = Path(out_dir)
    first = make_plan(seed, kind, **knobs)
    knobs = {**knobs, "name": knobs.get("name") or first.name}
    last_error: Exception | None = None
    for attempt in range(12):
        plan = first if attempt == 0 else make_plan(seed * 1009 + attempt, first.kind, **knobs)
        ws = workloads(plan)
        events = plan_events(plan, ws)
        world = simulate(plan)
        store = build_store(plan, world)
        try:
            rule, thr, starts = choose_alert(plan, store)
        except NoSeparation as exc:
            last_error = exc
            continue
        _decorate(plan, store)
        return _write(out_dir, plan, ws, events, world, store, rule, thr, starts, attempt)
    raise RuntimeError(f"seed {seed}: no draw gave a separable alert ({last_error})")


def _write(
    out_dir: Path,
    plan: Plan,
    ws: list[Any],
    events: list[Event],
    world: dict[str, SvcSim],
    store: Store,
    rule: Rule,
    thr: float,
    starts: int,
    attempt: int,
) -> Path:
    d = out_dir / plan.name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    store.write(d / "metrics.om.gz")
    write_logs(plan, world, d / "logs.jsonl.gz")
    (d / "alert.json").write_text(
        json.dumps(payload(plan, rule, thr, starts, plan.alerting), indent=2) + "\n"
    )
    (d / "scenario.json").write_text(
        json.dumps(
            {
                "name": plan.name,
                "at": plan.at,
                "at_rfc3339": names.rfc3339(plan.at),
                "step": plan.step,
                "start": plan.start,
            },
            indent=2,
        )
        + "\n"
    )
    with tempfile.TemporaryDirectory(prefix="scngen-") as tmp:
        repo = Path(tmp) / "repo"
        build_repo(plan, ws, events, repo)
        subprocess.run(
            ["git", "-C", str(repo), "bundle", "create", "-q", str(d / "repo.bundle"), "main"],
            check=True,
            capture_output=True,
        )
        files = subprocess.run(
            ["git", "-C", str(repo), "ls-files"], check=True, capture_output=True, text=True
        ).stdout.split()
    from scenariogen.manifests import Renderer

    culprit_w = next(w for w in ws if w.name == plan.culprit)
    expected: dict[str, Any] = {
        "root_cause": {"kind": plan.kind, "service": plan.culprit},
        "remediation": remediation(plan, world, events),
        "files": files,
        "namespace": plan.namespace,
        "layout": plan.layout,
        "convention": plan.convention,
        "manifest_root": plan.root,
        "paths": Renderer(plan).paths(culprit_w),
        "variant": plan.variant,
        "alert": rule.name,
        "label": "pod" if rule.pod else plan.label,
        "seed": plan.seed,
        "attempt": attempt,
    }
    expected["variants"] = active_variants(plan)
    if plan.alerting != plan.culprit:
        expected["alerting_service"] = plan.alerting
    if plan.quirk and plan.layout != "helm":
        expected["quirk"] = "dedented_containers"
    (d / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    return d
