"""The shared grader's checks (top-1/top-3 cause, remediation value, diff applies and is minimal,
revert equals ``git revert``), with an ``effective()`` that reads every generated layout.

It mirrors the scenario grader (grade.py, beside the scenario sets) and extends its layout
handling through ``expected["paths"]`` (plain roots other than apps/, Helm values).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

_CONTAINERS = re.compile(r"^(\s*)containers:\s*$")


def cpu_cores(v: Any) -> float:
    s = str(v).strip().strip('"')
    return float(s[:-1]) / 1000 if s.endswith("m") else float(s)


def mem_bytes(v: Any) -> int:
    s = str(v).strip().strip('"')
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "K": 1e3, "M": 1e6, "G": 1e9, "k": 1e3}
    for u in ("Ki", "Mi", "Gi", "Ti", "K", "M", "G", "k"):
        if s.endswith(u):
            return int(float(s[: -len(u)]) * units[u])
    return int(float(s))


def undent_containers(text: str) -> str:
    """Re-indent a ``containers:`` list that was dedented below its key (the examples' quirk)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        m = _CONTAINERS.match(line)
        if not m or i + 1 >= len(lines):
            continue
        want = len(m.group(1)) + 2
        have = len(lines[i + 1]) - len(lines[i + 1].lstrip(" "))
        if have < want:
            pad = " " * (want - have)
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("---")), len(lines))
            lines[i + 1 : end] = [pad + x if x.strip() else x for x in lines[i + 1 : end]]
        break
    return "".join(lines)


def load_docs(path: Path, tolerant: bool = False) -> list[Any]:
    text = path.read_text()
    try:
        return [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError:
        if not tolerant:
            raise
        return [d for d in yaml.safe_load_all(undent_containers(text)) if d]


def default_paths(layout: str, service: str) -> dict[str, str]:
    """What grade.py assumes: apps/<svc>/ for plain, base/<svc>/ + overlays/production/ for Kustomize."""
    if layout == "helm":
        return {"values": f"charts/{service}/values.yaml"}
    sub = "apps" if layout == "plain" else "base"
    return {
        "deployment": f"{sub}/{service}/deployment.yaml",
        "hpa": f"{sub}/{service}/hpa.yaml",
        "overlay": "overlays/production/kustomization.yaml",
    }


def effective(
    repo: Path, expected: dict[str, Any], service: str, field: str, tolerant: bool = False
) -> float:
    layout = expected["layout"]
    paths = {**default_paths(layout, service), **(expected.get("paths") or {})}
    if service != expected["root_cause"]["service"]:
        paths = default_paths(layout, service)
    if layout == "helm":
        values: dict[str, Any] = {}
        for rel in paths.get("value_files") or [paths["values"]]:  # later files win, maps merged
            values = _merge(values, load_docs(repo / rel)[0])
        if field == "replicas":
            return int(values["replicaCount"])
        if field == "hpa.maxReplicas":
            if not (values.get("autoscaling") or {}).get("enabled"):
                raise ValueError("autoscaling is not enabled")
            return int(values["autoscaling"]["maxReplicas"])
        limits = values["resources"]["limits"]
        return cpu_cores(limits["cpu"]) if field == "cpu" else mem_bytes(limits["memory"])
    if field == "replicas":
        if layout == "kustomize":
            for d in load_docs(repo / paths["overlay"]):
                for r in d.get("replicas") or []:
                    if r.get("name") == service:
                        return int(r["count"])
        return int(load_docs(repo / paths["deployment"], tolerant)[0]["spec"]["replicas"])
    if field == "hpa.maxReplicas":
        return int(load_docs(repo / paths["hpa"])[0]["spec"]["maxReplicas"])
    if paths.get("patch") and field in ("cpu", "memory"):
        patched = _patched_limit(load_docs(repo / paths["patch"]), field)
        if patched is not None:
            return cpu_cores(patched) if field == "cpu" else mem_bytes(patched)
    dep = load_docs(repo / paths["deployment"], tolerant)[0]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    if field == "cpu":
        return cpu_cores(c["resources"]["limits"]["cpu"])
    if field == "memory":
        return mem_bytes(c["resources"]["limits"]["memory"])
    raise ValueError(field)


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **{k: _merge(a[k], v) if k in a else v for k, v in b.items()}}
    return b


def _patched_limit(docs: list[Any], field: str) -> Any:
    """The limit a strategic-merge or JSON 6902 patch of the overlay sets, or None."""
    value = None
    for d in docs:
        if isinstance(d, list):
            for op in d:
                if op.get("op") in ("add", "replace") and op.get("path", "").endswith(f"/limits/{field}"):
                    value = op["value"]
        elif isinstance(d, dict):
            for c in d["spec"]["template"]["spec"]["containers"]:
                value = ((c.get("resources") or {}).get("limits") or {}).get(field, value)
    return value


def changed_lines(diff: str) -> int:
    return sum(
        1 for ln in diff.splitlines() if ln.startswith(("+", "-")) and not ln.startswith(("+++", "---"))
    )


def _git(
    repo: Path, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=check, input=input
    )


def grade(
    out: dict[str, Any], expected: dict[str, Any], repo: Path, tolerant: bool = False
) -> dict[str, Any]:
    """Grade one ``tugboat investigate --json`` document against expected.json, on a clone it may edit."""
    want = expected["root_cause"]
    rcs = out.get("root_causes") or []

    def hit(rc: dict[str, Any]) -> bool:
        return rc.get("kind") == want["kind"] and rc.get("service") == want["service"]

    res: dict[str, Any] = {
        "top1": bool(rcs) and hit(rcs[0]),
        "top3": any(hit(rc) for rc in rcs[:3]),
        "got": [(rc.get("kind"), rc.get("service")) for rc in rcs[:3]],
        "remediation": False,
        "diff_ok": None,
    }
    prop = out.get("proposal") or {"action": "none"}
    rem = expected["remediation"]
    res["got_action"] = prop.get("action")
    if rem["action"] == "none":
        res["remediation"] = prop.get("action") in (None, "none")
        return res
    if prop.get("action") != rem["action"] or prop.get("service") != rem.get("service"):
        return res
    diff = prop.get("diff") or ""
    if rem["action"] == "revert":
        c = str(prop.get("commit") or "")
        res["remediation"] = len(c) >= 7 and rem["commit"].startswith(c)
        if diff:
            base = _git(repo, "rev-parse", "HEAD").stdout.strip()
            if _git(repo, "apply", "--index", "-", check=False, input=diff).returncode != 0:
                res["diff_ok"] = False
                return res
            mine = _git(repo, "write-tree").stdout.strip()
            _git(repo, "reset", "-q", "--hard", base)
            _git(repo, "revert", "--no-commit", rem["commit"])
            res["diff_ok"] = mine == _git(repo, "write-tree").stdout.strip()
        return res
    field = {"set_cpu_limit": "cpu", "set_memory_limit": "memory"}.get(rem["action"], rem.get("field", ""))
    if not diff:
        res["diff_ok"] = False
        return res
    ap = _git(repo, "apply", "-", check=False, input=diff)
    if ap.returncode != 0:
        res["diff_ok"] = False
        res["error"] = "diff does not apply: " + ap.stderr.strip()[:200]
        return res
    try:
        val = effective(repo, expected, rem["service"], field, tolerant)
    except Exception as e:  # the edit broke the file or targeted the wrong place
        res["diff_ok"] = False
        res["error"] = f"cannot read effective {field}: {type(e).__name__}: {e}"
        return res
    res["effective"] = val
    res["remediation"] = rem["min_value"] <= val <= rem["max_value"]
    res["diff_ok"] = changed_lines(diff) <= 2
    return res
