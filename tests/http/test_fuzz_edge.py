"""Property-based fuzzing of /slack/events and /alerts/alertmanager against a real
``tugboat serve --http`` process: whatever arrives, signed or not, well-formed or not, the answer
is never a 5xx, the process stays up, ``/healthz`` stays fast, and the log has no traceback.

Seeded and bounded (500 examples per endpoint, plus the cases issue 14 names), so a run is
repeatable and takes well under a minute.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import requests
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

from testkit import slack_requests as sr
from testkit.serve_process import serve_http
from testkit.slack_api import running_slack_api
from tests.slack.conftest import CHANNEL, alert_payload

FORM, JSON = "application/x-www-form-urlencoded", "application/json"
HEALTHZ_SLOWEST_S = 2.0  # generous for a loaded 2-core CI machine; a blocked loop takes far longer
Request = tuple[bytes, dict[str, str], bool]  # body, headers, signed

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
DELETE = object()


def _payload(body: bytes) -> dict[str, Any]:
    return dict(json.loads(parse_qs(body.decode())["payload"][0]))


TEMPLATES: dict[str, dict[str, Any]] = {
    "button": _payload(sr.button("tugboat_approve", "p1", user="U1", channel=CHANNEL, message_ts="1.1")[0]),
    "reject": _payload(sr.button("tugboat_reject", "p1", user="U1", channel=CHANNEL, message_ts="1.1")[0]),
    "view": _payload(sr.view_submission("tugboat_reject_reason", '{"proposal": "p1"}', {}, user="U1")[0]),
    "event": json.loads(sr.app_mention("<@UTUGBOAT> why?", user="U1", channel=CHANNEL, ts="1.1")[0]),
    "alert": alert_payload(),
}
COMMAND_TEXTS = [
    "help",
    "status",
    "scale checkout 3",
    "explain",
    "rollback checkout",
    "limits x cpu 1",
    "nope",
    "",
]


@st.composite
def mutated(draw: st.DrawFn, template: str) -> dict[str, Any]:
    """The template with a few fields, at the top or one level down, replaced or removed."""
    body = json.loads(json.dumps(TEMPLATES[template]))
    for _ in range(draw(st.integers(0, 3))):
        target = body
        inner = [k for k, v in body.items() if isinstance(v, dict)]
        if draw(st.booleans()) and inner:
            target = body[draw(st.sampled_from(sorted(inner)))]
        if not target:
            continue
        key = draw(st.sampled_from(sorted(target)) | st.text(max_size=6))
        value = draw(values | st.just(DELETE))
        if value is DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    return body


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@st.composite
def slack_requests(draw: st.DrawFn) -> Request:
    kind = draw(st.sampled_from(["raw", "signed-raw", "command", "interaction", "event", "deep"]))
    signed = kind != "raw"
    if kind in ("raw", "signed-raw"):
        body = draw(st.binary(max_size=512) | st.text(max_size=512).map(str.encode))
        ctype = draw(st.sampled_from([FORM, JSON, "text/plain", "multipart/form-data", ""]))
        return body, {"Content-Type": ctype} if ctype else {}, signed
    if kind == "command":
        fields = parse_qs(sr.command("help")[0].decode())
        form = {k: v[0] for k, v in fields.items()}
        form["text"] = draw(st.sampled_from(COMMAND_TEXTS) | st.text(max_size=80))
        for key in draw(st.lists(st.sampled_from(sorted(form)), max_size=2)):
            form.pop(key, None)
        return urlencode(form).encode(), {"Content-Type": FORM}, True
    if kind == "interaction":
        payload = draw(mutated(draw(st.sampled_from(["button", "reject", "view"]))))
        return urlencode({"payload": json.dumps(payload)}).encode(), {"Content-Type": FORM}, True
    if kind == "event":
        return json.dumps(draw(mutated("event"))).encode(), {"Content-Type": JSON}, True
    depth = draw(st.integers(20, 3000))
    if draw(st.booleans()):
        return b"payload=" + _nested(depth), {"Content-Type": FORM}, True
    return _nested(depth), {"Content-Type": JSON}, True


@st.composite
def webhooks(draw: st.DrawFn) -> Request:
    kind = draw(st.sampled_from(["raw", "json", "alert", "deep"]))
    if kind == "raw":
        body = draw(st.binary(max_size=512))
    elif kind == "json":
        body = json.dumps(draw(values)).encode()
    elif kind == "alert":
        alert = draw(mutated("alert"))
        if alert.get("alerts") and isinstance(alert["alerts"], list) and isinstance(alert["alerts"][0], dict):
            alert["alerts"][0][draw(st.sampled_from(sorted(alert["alerts"][0])))] = draw(values)
        body = json.dumps(alert).encode()
    else:
        body = _nested(draw(st.integers(20, 3000)))
    return body, {"Content-Type": draw(st.sampled_from([JSON, JSON, "text/plain"]))}, False


class HealthWatch:
    """Polls /healthz throughout and keeps the slowest answer and any failure."""

    def __init__(self, base: str) -> None:
        self.base, self.slowest, self.failures = base, 0.0, []  # type: ignore[var-annotated]
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(0.1):
            started = time.perf_counter()
            try:
                status = requests.get(self.base + "/healthz", timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__  # type: ignore[assignment]
            self.slowest = max(self.slowest, time.perf_counter() - started)
            if status != 200:
                self.failures.append(status)

    @contextmanager
    def watching(self) -> Iterator[HealthWatch]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(15)


def test_both_endpoints_never_answer_5xx_under_fuzzing(tmp_path: Path) -> None:
    answers: dict[str, list[int]] = {"/slack/events": [], "/alerts/alertmanager": []}
    with running_slack_api() as api, serve_http(tmp_path, api.base_url, CHANNEL) as served:
        session = requests.Session()

        def send(path: str, request: Request) -> None:
            body, headers, signed = request
            if signed:
                headers = {**headers, **sr.sign(body)}
            r = session.post(served.base + path, data=body, headers=headers, timeout=30)
            answers[path].append(r.status_code)
            assert r.status_code < 500, (path, body[:200], r.status_code, r.text[:300])
            assert "Traceback" not in r.text

        big_command = sr.command("investigate " + "a" * 300_000)
        fuzz = settings(
            max_examples=500,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )

        @seed(14)
        @fuzz
        @given(slack_requests())
        @example((_nested(50_000), {"Content-Type": JSON}, False))
        @example((_nested(50_000), {"Content-Type": JSON}, True))
        @example((b"\xff\xfe\x00", {"Content-Type": FORM}, True))
        @example((big_command[0], big_command[1], True))
        @example((b"x" * (1024 * 1024 + 1), {"Content-Type": FORM}, True))
        def slack(request: Request) -> None:
            send("/slack/events", request)

        @seed(14)
        @fuzz
        @given(webhooks())
        @example((b"\xff\xfe\x00", {"Content-Type": JSON}, False))
        @example((_nested(50_000), {"Content-Type": JSON}, False))
        def alertmanager(request: Request) -> None:
            send("/alerts/alertmanager", request)

        with HealthWatch(served.base).watching() as health:
            slack()
            alertmanager()
            time.sleep(1.0)  # the lazy work of the last requests
        assert served.proc.poll() is None, "tugboat serve died"
    assert health.failures == [] and health.slowest < HEALTHZ_SLOWEST_S, (health.failures, health.slowest)
    for path, statuses in answers.items():
        assert {s // 100 for s in statuses} <= {2, 4} and 200 in statuses, (path, sorted(set(statuses)))
    logs = served.logs()
    assert "Traceback" not in logs, logs[logs.index("Traceback") - 2000 : logs.index("Traceback") + 3000]
