"""The GitOps repository's history: an initial layout days before, routine commits, older real
changes, distractors near the incident and, for bad_deploy, the commit that broke the workload."""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenariogen import names
from scenariogen.manifests import CONFIG_KEYS, Renderer, Workload
from scenariogen.plan import Plan


@dataclass
class Event:
    t: int
    author: tuple[str, str]
    message: str
    action: str  # changelog | readme | release | env | limit | replicas
    svc: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    sha: str = ""


def workloads(plan: Plan) -> list[Workload]:
    rng = random.Random(plan.seed * 71 + 9)
    out = []
    for s in plan.services:
        env = {"LOG_LEVEL": "info"}
        for k, v, _ in rng.sample(CONFIG_KEYS, rng.randint(1, 2)):
            env[k] = v
        style = {"cpu": rng.choice(["plain", "quoted", "milli"]), "mem": rng.choice(["Mi", "Gi", "quoted"])}
        out.append(
            Workload(
                s.name,
                s.image,
                s.tag,
                s.replicas,
                s.cpu_limit,
                s.cpu_request,
                s.mem_limit,
                s.mem_request,
                env,
                s.hpa,
                s.sidecar,
                style,
            )
        )
    return out


def plan_events(plan: Plan, ws: list[Workload]) -> list[Event]:
    """Decide the history before simulating, so distractor deploys also show up as pod churn."""
    rng = random.Random(plan.seed * 97 + 13)
    init = plan.at - rng.randint(3, 20) * 86400 - rng.randint(0, 86400)
    init -= init % 60
    evs: list[Event] = [Event(init, rng.choice(names.HUMANS), "Initial GitOps layout", "init")]
    healthy = [w for w in ws if w.name != plan.culprit]
    for _ in range(rng.randint(5, 11)):
        w = rng.choice(ws)
        t = rng.randint(init + 3600, plan.start - 6 * 3600)
        evs.append(Event(t, rng.choice(names.BOTS), f"{w.name}: refresh configuration", "changelog", w.name))
    for _ in range(rng.randint(0, 3)):
        t = rng.randint(init + 3600, plan.start - 6 * 3600)
        w = rng.choice(ws)
        evs.append(Event(t, rng.choice(names.BOTS), f"{w.name}: release {{tag}}", "release", w.name))
    if rng.random() < 0.5:
        evs.append(
            Event(
                rng.randint(init + 3600, plan.start - 3600),
                rng.choice(names.HUMANS),
                "docs: describe the release process",
                "readme",
            )
        )
    # distractors close to the incident
    if plan.distractors:
        near = lambda: rng.randint(max(plan.start + 300, plan.onset - 55 * 60), plan.onset - 120)  # noqa: E731
        evs.append(
            Event(
                near(),
                rng.choice(names.HUMANS),
                rng.choice(
                    ["docs: on-call pointer", "docs: fix runbook link", "README: add dashboard links"]
                ),
                "readme",
            )
        )
        if healthy:
            w = rng.choice(healthy)
            evs.append(
                Event(
                    near(),
                    rng.choice(names.HUMANS),
                    f"{w.name}: enable debug logging",
                    "env",
                    w.name,
                    {"key": "LOG_LEVEL", "value": "debug"},
                )
            )
        released = [x for x in healthy if x.name != evs[-1].svc] or healthy
        if healthy and rng.random() < 0.5:
            w = rng.choice(released)
            t = near()
            evs.append(
                Event(
                    t,
                    rng.choice(names.BOTS),
                    f"{w.name}: release {{tag}}",
                    "release",
                    w.name,
                    {"rollout": True},
                )
            )
    if plan.extra.get("red_herring") and healthy:  # a healthy release minutes before the incident
        w = rng.choice(healthy)
        t = plan.onset - rng.randint(2, 12) * 60
        evs.append(
            Event(
                t, rng.choice(names.BOTS), f"{w.name}: release {{tag}}", "release", w.name, {"rollout": True}
            )
        )
    if plan.kind == "bad_deploy":
        w = next(x for x in ws if x.name == plan.culprit)
        t = int(plan.extra["deploy_t"])
        if plan.bad_change == "image":
            msg = rng.choice(
                [
                    "{svc}: release {tag}",
                    "chore(deps): update {svc} image to {tag}",
                    "Bump {svc} to {tag}",
                    "deploy {svc} {tag}",
                ]
            )
            evs.append(
                Event(
                    t, rng.choice(names.BOTS), msg.replace("{svc}", w.name), "release", w.name, {"bad": True}
                )
            )
        else:
            key = next(k for k in w.env if k != "LOG_LEVEL")
            new = next(b for k, _, b in CONFIG_KEYS if k == key)
            msg = rng.choice(
                [
                    f"{w.name}: set {key}={new}",
                    f"{w.name}: tune {key.lower()}",
                    f"feat({w.name}): enable {key.lower()}",
                ]
            )
            evs.append(
                Event(
                    t, rng.choice(names.HUMANS), msg, "env", w.name, {"key": key, "value": new, "bad": True}
                )
            )
    evs.sort(key=lambda e: e.t)
    # events touching shared files must not follow the bad commit, so that it reverts cleanly
    if plan.kind == "bad_deploy":
        bad_t = int(plan.extra["deploy_t"])
        for e in evs:
            if e.t > bad_t and e.action in ("release", "env") and not e.args.get("bad"):
                e.t = bad_t - rng.randint(3, 20) * 60
        evs.sort(key=lambda e: e.t)
    tags = {w.name: w.tag for w in ws}
    for e in reversed(evs):  # walk back from the running tags to what each release replaced
        if e.action != "release":
            continue
        if e.args.get("bad"):
            e.args["from"], e.args["to"] = tags[e.svc], names.next_version(rng, tags[e.svc])
            plan.extra["new_tag"] = e.args["to"]
        else:
            e.args["to"] = tags[e.svc]
            tags[e.svc] = e.args["from"] = names.prev_version(rng, tags[e.svc])
            if e.args.get("rollout") and e.t > plan.start:
                plan.extra.setdefault("rollouts", {})[e.svc] = (e.t, e.args["to"])
                plan.svc(e.svc).tag = e.args["from"]
        e.message = e.message.replace("{tag}", e.args["to"])
    for e in evs:  # a pod-template change of a healthy workload rolls it, harmlessly
        if e.action == "env" and not e.args.get("bad") and e.t > plan.start:
            plan.extra.setdefault("rollouts", {}).setdefault(e.svc, (e.t, plan.svc(e.svc).tag))
    for w in ws:  # the layout commit carries the tags as they were then
        w.tag = tags[w.name]
    return evs


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent), **(env or {})}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=full
    ).stdout.strip()


def build_repo(plan: Plan, ws: list[Workload], events: list[Event], repo: Path) -> None:
    render = Renderer(plan)
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    by_name = {w.name: w for w in ws}
    readme = [f"# {plan.namespace} GitOps repository", "", "Synced to the cluster by Argo CD.", ""]
    changelog: list[str] = []
    for e in events:
        files: dict[str, str] = {}
        w = by_name.get(e.svc)
        if e.action == "init":
            files |= render.render(ws)
        elif e.action == "changelog":
            changelog.append(f"- {names.rfc3339(e.t)} {e.svc} config refresh")
            files["CHANGELOG.md"] = "\n".join(changelog) + "\n"
        elif e.action == "readme":
            readme.append(
                "On-call: see the runbooks folder."
                if "on-call" in e.message
                else "Dashboards: https://grafana.example.com/d/namespace-overview"
            )
        elif w is not None and e.action == "release":
            w.tag = e.args["to"]
        elif w is not None and e.action == "env":
            w.env[e.args["key"]] = e.args["value"]
        if e.action in ("init", "readme"):
            files["README.md"] = "\n".join(readme) + "\n"
        if e.action in ("release", "env"):
            files |= render.render(ws)
        for rel, text in files.items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        _git(repo, "add", "-A")
        date = f"@{e.t} +0000"
        env = {
            "GIT_AUTHOR_NAME": e.author[0],
            "GIT_AUTHOR_EMAIL": e.author[1],
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": e.author[0],
            "GIT_COMMITTER_EMAIL": e.author[1],
            "GIT_COMMITTER_DATE": date,
        }
        _git(repo, "commit", "-q", "--allow-empty", "-m", e.message, env=env)
        e.sha = _git(repo, "rev-parse", "HEAD")
