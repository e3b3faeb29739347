"""``tugboat serve`` as a process, with ``TUGBOAT_REPO`` in each form users have: a bare
repository, a clone, a ``file://`` URL and an HTTP URL with a token (git's smart-HTTP server).
Each runs the whole loop against a real Prometheus: alert -> investigation with a graph and a
proposal -> ``/tugboat scale`` -> Approve -> the merges land on the remote's default branch, and
no message shows a path on the server or the token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.adapters.slack import blocks
from testkit import slack_requests as sr
from testkit.githttp import serving_git
from testkit.gitops import git
from testkit.promserver import free_port, running_prometheus
from testkit.slack_api import SlackApi, running_slack_api
from tests.analysis.synth import STEP, Cluster
from tests.analysis.test_investigate_prometheus import DEPLOYMENT

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

CHANNEL, APPROVER = "CINC", "UAPPROVER"
TOKEN = "ghs_processT0ken"
OOM_EXPR = (
    "increase(kube_pod_container_status_restarts_total[10m]) > 0 and on (namespace, pod, container)"
    ' kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1'
)


def _remote(root: Path, cluster: Cluster) -> tuple[Path, Path]:
    """A bare GitOps remote with ``front`` and ``back``, and a user's clone of it."""
    work, bare = root / "work", root / "gitops.git"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    for name in ("front", "back"):
        (work / "apps" / name).mkdir(parents=True)
        (work / "apps" / name / "deployment.yaml").write_text(DEPLOYMENT.format(name=name, tag="1.0.0"))
    (work / ".gitignore").write_text("scratch/\n")
    git(work, "add", "-A")
    stamp = f"@{cluster.start - 86400} +0000"
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    subprocess.run(
        ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", "layout"],
        cwd=work,
        env=env,
        check=True,
    )
    git(root, "clone", "-q", "--bare", str(work), str(bare))
    git(work, "remote", "add", "origin", str(bare))
    git(work, "fetch", "-q", "origin")
    git(work, "branch", "-q", "--set-upstream-to=origin/main", "main")
    # Ignored and untracked clutter in the user's clone never reaches a scan.
    (work / "scratch").mkdir()
    (work / "scratch" / "broken.yaml").write_text("kind: [unclosed\n")
    return bare, work


@contextmanager
def _serving(env: dict[str, str], cwd: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    exe = Path(sys.executable).parent / "tugboat"
    proc = subprocess.Popen(
        [str(exe), "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)


def _proposals(api: SlackApi, count: int) -> list[tuple[str, str, str]]:
    """(proposal id, message ts, thread ts) of the first ``count`` messages with Approve."""
    deadline = time.monotonic() + 120
    while True:
        found = []
        for call in api.of("chat.postMessage"):
            if blocks.ACTION_APPROVE not in json.dumps(call.args.get("blocks")):
                continue
            actions = [b for b in call.args["blocks"] if b.get("type") == "actions"]
            value = actions[-1]["elements"][0]["value"]
            thread = call.args.get("thread_ts") or ""
            messages = api.replies.get(thread, []) if thread else [m for r in api.replies.values() for m in r]
            ts = next(m["ts"] for m in messages if m["text"] == call.args["text"])
            found.append((value, ts, thread))
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{count} proposals not posted; saw {len(found)}"
        time.sleep(0.3)


def _post(base: str, made: tuple[bytes, dict[str, str]]) -> requests.Response:
    body, headers = made
    return requests.post(base + "/slack/events", data=body, headers={**headers, **sr.sign(body)}, timeout=10)


def _alert(cluster: Cluster) -> dict[str, Any]:
    labels = {
        "alertname": "ContainerOOMKilled",
        "namespace": "shop",
        "pod": "back-5f6d7c8b9x-klmno",
        "container": "back",
        "severity": "page",
    }
    starts = datetime.fromtimestamp(cluster.onset + 300, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    from urllib.parse import quote

    return {
        "version": "4",
        "groupKey": '{}:{alertname="ContainerOOMKilled"}',
        "status": "firing",
        "receiver": "tugboat",
        "groupLabels": {"alertname": "ContainerOOMKilled"},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prom/graph?g0.expr={quote(OOM_EXPR)}",
                "fingerprint": "f1",
            }
        ],
    }


@pytest.mark.parametrize(
    ("form", "uploads_fail"),
    [("bare", False), ("clone", False), ("file-url", False), ("http-with-token", False), ("bare", True)],
    ids=["bare", "clone", "file-url", "http-with-token", "bare-upload-failing"],
)
def test_whole_loop_with_each_form_of_the_repository_setting(
    tmp_path: Path, prometheus_binaries: None, form: str, uploads_fail: bool
) -> None:
    """With Slack's file upload failing, the graph is noted as missing and the proposal still
    arrives after the report, which is posted once."""
    now = int(time.time())
    start = (now - 120 * 60 - 60) // STEP * STEP  # the synthetic two hours end a minute ago
    cluster = Cluster(start=start, fault="oom")
    om = cluster.build().write(tmp_path / "metrics.om")
    bare, work = _remote(tmp_path / "git", cluster)
    user_head = git(work, "rev-parse", "HEAD")
    with ExitStack() as stack:
        prom = stack.enter_context(running_prometheus(om))
        api = stack.enter_context(running_slack_api())
        host = stack.enter_context(serving_git(bare.parent, "x-access-token", TOKEN))
        setting = {
            "bare": str(bare),
            "clone": str(work),
            "file-url": f"file://{bare}",
            "http-with-token": f"{host.base_url}/{bare.name}",  # as GitHub serves HTTPS
        }[form]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TUGBOAT_", "GITHUB_"))}
        if form == "http-with-token":
            env.update(GITHUB_TOKEN=TOKEN, TUGBOAT_GITHUB_API_URL=f"{host.base_url}/api/v3")
        env.update(
            SLACK_BOT_TOKEN="xoxb-proc",
            SLACK_SIGNING_SECRET=sr.SECRET,
            TUGBOAT_SLACK_API_URL=api.base_url,
            TUGBOAT_SLACK_CHANNEL=CHANNEL,
            TUGBOAT_DATABASE_URL=f"sqlite:///{tmp_path / 'tugboat.db'}",
            TUGBOAT_LLM_ENABLED="false",
            TUGBOAT_ALERTMANAGER_TOKEN="am",
            TUGBOAT_PROMETHEUS_URL=prom,
            TUGBOAT_REPO=setting,
            TUGBOAT_DATA_DIR=str(tmp_path / "data"),
            TUGBOAT_POLICY=json.dumps({"approvers": [APPROVER]}),
            TUGBOAT_AUTO_DRAFT="true",
            TUGBOAT_VERIFY_ENABLED="false",
            TUGBOAT_CAPACITY_CRON="",
            TUGBOAT_ANOMALY_CRON="",
            TUGBOAT_SLACK_UPDATE_INTERVAL_S="0.3",
        )
        if uploads_fail:
            api.fail_always("upload", 500)
        with _serving(env, tmp_path) as (base, proc):
            r = requests.post(
                base + "/alerts/alertmanager",
                json=_alert(cluster),
                headers={"Authorization": "Bearer am"},
                timeout=10,
            )
            assert r.status_code == 200
            [(fix_id, fix_ts, thread)] = _proposals(api, 1)
            if uploads_fail:
                # the steps run in order: the report, its graph (tried, then noted), the proposal
                said = [
                    c.args["text"] for c in api.of("chat.postMessage") if c.args.get("thread_ts") == thread
                ]
                assert said.count(said[0]) == 1, said  # the report, once
                assert [t for t in said if t.startswith("Evidence graph could not be uploaded")], said
                assert said[-1].startswith("Proposed change"), said
                assert not api.of("files.completeUploadExternal")
            else:
                assert api.wait_for("files.completeUploadExternal", timeout=60)  # the evidence graph
            r = _post(base, sr.command("scale front 3", user="UASKER"))
            assert r.status_code == 200
            proposals = _proposals(api, 2)
            scale_id, scale_ts, _ = next(p for p in proposals if p[0] != fix_id)
            _post(
                base,
                sr.button(
                    blocks.ACTION_APPROVE, scale_id, user=APPROVER, channel=CHANNEL, message_ts=scale_ts
                ),
            )
            _post(
                base,
                sr.button(
                    blocks.ACTION_APPROVE,
                    fix_id,
                    user=APPROVER,
                    channel=CHANNEL,
                    message_ts=fix_ts,
                    thread_ts=thread,
                ),
            )
            deadline = time.monotonic() + 90
            while True:
                front = git(bare, "show", "main:apps/front/deployment.yaml")
                back = git(bare, "show", "main:apps/back/deployment.yaml")
                if "replicas: 3" in front and "memory: 256Mi" not in back:
                    break
                assert proc.poll() is None and time.monotonic() < deadline, "the merges did not land"
                time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and TOKEN not in err, err
    assert bool(host.authorizations) is (form == "http-with-token")
    # The user's clone is never written: its branch and files are as they were.
    assert (
        git(work, "rev-parse", "HEAD") == user_head
        and "replicas: 2" in (work / "apps/front/deployment.yaml").read_text()
    )
    said = json.dumps([c.args for c in api.calls if c.method != "upload"])
    assert str(tmp_path) not in said and "/tmp/" not in said  # never a server path in Slack
    assert TOKEN not in said
