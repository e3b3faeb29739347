"""``POST /slack/events`` takes a fast path past Starlette's routing (issue 13's ack latency):
the same refusals, answers and metrics as before, and form values decoded only where needed."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote_plus, urlencode

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.http.limits import RequestRefused, encoded_form, parse_form
from bot.adapters.slack.listeners.commands import acknowledgement
from testkit import slack_requests as sr
from tests.slack.conftest import Harness

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _decoded(text: str) -> dict[str, str] | None:
    fields = encoded_form(text)
    return None if fields is None else {name: unquote_plus(value) for name, value in fields.items()}


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=12))
def test_encoded_fields_decode_to_what_the_full_parser_reads(fields: dict[str, str]) -> None:
    text = urlencode(fields)
    decoded = _decoded(text)
    if decoded is not None:  # None: the full parser is used instead
        assert decoded == parse_form(text)
        raw = encoded_form(text) or {}
        assert {n: bool(v) for n, v in raw.items()} == {n: bool(v) for n, v in decoded.items()}


@pytest.mark.parametrize(
    "text",
    ["a=1&&b", "a", "user%5Fid=U1&command=%2Ftugboat", "a+b=1", "&".join(f"f{i}=1" for i in range(65))],
    ids=["empty-field", "no-equals", "encoded-name", "plus-name", "too-many"],
)
def test_forms_the_quick_split_cannot_vouch_for_go_to_the_full_parser(text: str) -> None:
    assert encoded_form(text) is None
    try:
        parse_form(text)
    except RequestRefused as refused:
        assert refused.status == 400


def test_a_command_with_encoded_names_and_text_is_read_in_full(harness: Harness) -> None:
    body, headers = sr.command("status", response_url=harness.api.response_url)
    body = body.replace(b"user_id=", b"user%5Fid=").replace(b"text=status", b"text=st%61tus")
    r = harness.post("/slack/events", body, headers)
    assert (r.status_code, r.json()["text"]) == (200, "Working on `/tugboat status`…")
    assert harness.api.wait_for("response_url", 1)  # Bolt got the decoded command and ran it
    body, headers = sr.command("st%61tus", response_url=harness.api.response_url)  # names plain
    r = harness.post("/slack/events", body, headers)
    assert r.json() == acknowledgement("st%61tus", harness.settings.slack_max_text_chars)  # decoded once


def test_other_methods_and_paths_still_go_through_the_router(harness: Harness) -> None:
    r = requests.get(harness.url + "/slack/events", timeout=10)
    assert r.status_code == 405
    assert requests.get(harness.url + "/healthz", timeout=10).status_code == 200


def test_a_chunked_body_past_the_limit_is_refused(harness: Harness) -> None:
    limit = harness.settings.slack_max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b"command=%2Ftugboat&text="
        for _ in range(limit // 1024 + 2):
            yield b"a" * 1024

    r = requests.post(harness.url + "/slack/events", data=chunks(), headers=FORM, timeout=10)
    assert r.status_code == 413 and "larger than" in r.json()["error"]


def _metric(harness: Harness, name: str) -> float:
    text = requests.get(harness.url + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_acks_and_refusals_are_counted_as_before(harness: Harness) -> None:
    acks = _metric(harness, "tugboat_slack_ack_seconds_count")
    forged = _metric(harness, "tugboat_slack_unauthenticated_requests_total")
    assert harness.command("help").status_code == 200
    body, headers = sr.command("help")
    r = harness.post("/slack/events", body, {**headers, **sr.sign(body, secret="wrong")}, sign=False)
    assert r.status_code == 401
    assert _metric(harness, "tugboat_slack_ack_seconds_count") == acks + 2
    assert _metric(harness, "tugboat_slack_unauthenticated_requests_total") == forged + 1


def test_close_dispatches_everything_acknowledged_and_then_takes_nothing() -> None:
    from bot.adapters.http.slack_edge import Accepted, SlackEdge
    from bot.settings import Settings

    seen: list[str] = []

    class Bolt:
        def dispatch(self, request: object) -> object:
            seen.append(request.body["user_id"])  # type: ignore[attr-defined]
            return type("Response", (), {"status": 200})()

    edge = SlackEdge(Bolt(), Settings(slack_signing_secret="s", slack_bot_token="xoxb-x"))  # type: ignore[arg-type]
    for user in ("U1", "U2", "U3"):
        body, _ = sr.command("status", user=user)
        assert edge._dispatch_later(Accepted(b"", None, body.decode()), {}, 0)
    edge.close()
    assert seen == ["U1", "U2", "U3"]  # decoded in full, oldest first
    assert not edge._dispatch_later(Accepted(b"", {"user_id": "U4"}), {}, 0)
