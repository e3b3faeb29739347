"""LokiLogSource against cassettes in Loki's wire format.

Playback by default. With ``TUGBOAT_LOKI_URL`` set, the reproducible cassettes (success,
paging, 400) are re-recorded against that Loki after the same streams are pushed to it;
``TUGBOAT_LOKI_TENANT`` and ``TUGBOAT_LOKI_AUTHORIZATION`` are sent and filtered out of the
cassettes. Loki cannot be made to answer 429 or 500 on demand: those cassettes are
hand-written from Loki's error writer (plain text, ``http.Error``) and always played back.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import vcr
import yaml

from bot.adapters.logs.logql import render
from bot.adapters.logs.loki import DEFAULT_PAGE_SIZE, LokiLogSource, from_ns, parse_streams, to_ns
from bot.domain.errors import SourceUnavailable
from bot.settings import Settings
from tests.logs import lokidata as data

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "loki"
BASE_TIME = CASSETTES / "base_time_ns.txt"  # written when re-recording: pushed data must be recent
FILTERED = ["authorization", "x-scope-orgid"]


def make_vcr(record: bool) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if record else "none",
        match_on=["method", "path", "query"],  # not host: playback works against any URL
        filter_headers=FILTERED,
        decode_compressed_response=True,
    )


@dataclass
class Loki:
    url: str
    record: bool
    t0: int
    headers: dict[str, str]
    tenant: str | None

    def source(self, page_size: int = DEFAULT_PAGE_SIZE) -> LokiLogSource:
        return LokiLogSource(self.url, 5.0, headers=self.headers, tenant=self.tenant, page_size=page_size)

    def cassette(self, name: str) -> Any:
        return make_vcr(self.record).use_cassette(f"{name}.yaml")


def _push(url: str, headers: dict[str, str], streams: list[data.Stream]) -> None:
    body = {
        "streams": [
            {"stream": labels, "values": [[str(ns), line] for ns, line in values]}
            for labels, values in streams
        ]
    }
    resp = requests.post(f"{url.rstrip('/')}/loki/api/v1/push", json=body, headers=headers, timeout=10)
    resp.raise_for_status()


@pytest.fixture(scope="module")
def loki() -> Loki:
    url = Settings().loki_url
    # Recording credentials are test-only knobs, not application settings.
    tenant = os.environ.get("TUGBOAT_LOKI_TENANT") or None
    auth = os.environ.get("TUGBOAT_LOKI_AUTHORIZATION")
    headers = {"Authorization": auth} if auth else {}
    if not url:
        t0 = int(BASE_TIME.read_text()) if BASE_TIME.is_file() else data.T0_NS
        return Loki(data.BASE_URL, False, t0, {}, None)
    t0 = (time.time_ns() // data.S - 600) * data.S  # Loki refuses samples older than its window
    push_headers = {**headers, **({"X-Scope-OrgID": tenant} if tenant else {})}
    _push(url, push_headers, data.success_streams(t0) + data.paging_streams(t0))
    BASE_TIME.write_text(f"{t0}\n")
    return Loki(url, True, t0, headers, tenant)


def test_streams_are_merged_oldest_first_with_their_labels(loki: Loki) -> None:
    start, end = data.window(loki.t0)
    source = loki.source()
    with loki.cassette("query_range_streams"):
        lines = source.query(data.success_query(), from_ns(start), from_ns(end))
    assert source.requests_made == 1
    assert [to_ns(x.ts) - loki.t0 for x in lines] == [
        1 * data.S,
        2 * data.S,
        3 * data.S,
        4 * data.S + 250_000_000,
        5 * data.S,
        6 * data.S,
        9 * data.S,  # the 1 ns offset is below datetime's microsecond precision
    ]
    assert all("/healthz" not in x.line for x in lines)
    assert {x.labels["namespace"] for x in lines} == {"shop"}
    assert {x.labels["pod"] for x in lines} == {
        "checkout-7d9f8b6c5-x2x4k",
        "checkout-7d9f8b6c5-q8wzn",
        "cart-5c4b7f9d8-m2p7t",
    }
    errors = [x for x in lines if "unhandled exception" in x.line]
    assert len(errors) == 2 and errors[0].labels["app"] == "checkout"


def test_paging_continues_from_the_last_timestamp_without_gaps_or_repeats(loki: Loki) -> None:
    start, end = data.window(loki.t0)
    source = loki.source(page_size=3)
    with loki.cassette("query_range_paging"):
        lines = source.query(data.paging_query(), from_ns(start), from_ns(end))
    assert source.requests_made == 4
    numbers = sorted(int(x.line.rsplit("n=", 1)[1]) for x in lines)
    assert numbers == list(range(1, 9))  # all eight, the two at 30 s included, none twice
    assert [x.ts for x in lines] == sorted(x.ts for x in lines)


def test_total_cap_stops_paging(loki: Loki) -> None:
    start, end = data.window(loki.t0)
    source = loki.source(page_size=3)
    with loki.cassette("query_range_paging_cap"):
        lines = source.query(data.paging_query(limit=4), from_ns(start), from_ns(end))
    assert len(lines) == 4 and source.requests_made == 2
    assert {x.line for x in lines} == {f'level=info msg="posted" n={n}' for n in (1, 2, 3, 4)}


def test_parse_error_carries_lokis_text(loki: Loki) -> None:
    start, end = data.window(loki.t0)
    with loki.cassette("query_range_400"), pytest.raises(SourceUnavailable) as err:
        loki.source().query(data.bad_regex_query(), from_ns(start), from_ns(end))
    message = str(err.value)
    assert "HTTP 400" in message and "Loki refused the query" in message
    assert "invalid or unsupported Perl syntax" in message
    assert render(data.bad_regex_query())[:40] in message


@pytest.mark.parametrize(
    ("cassette", "words"),
    [
        ("query_range_500", ["HTTP 500", "Loki failed while answering", "empty ring"]),
        ("query_range_429", ["HTTP 429", "rate limiting", "too many outstanding requests"]),
    ],
)
def test_server_errors_are_source_unavailable(cassette: str, words: list[str]) -> None:
    start, end = data.window()
    source = LokiLogSource(data.BASE_URL, 5.0)
    with make_vcr(record=False).use_cassette(f"{cassette}.yaml"), pytest.raises(SourceUnavailable) as err:
        source.query(data.success_query(), from_ns(start), from_ns(end))
    for word in words:
        assert word in str(err.value)


def test_connection_refused_is_source_unavailable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = LokiLogSource(f"http://127.0.0.1:{port}", 2.0)
    start, end = data.window()
    with pytest.raises(
        SourceUnavailable, match=r"cannot connect to Loki at http://127\.0\.0\.1:\d+: .*refused"
    ):
        source.query(data.success_query(), from_ns(start), from_ns(end))


def test_timeout_is_source_unavailable() -> None:
    with socket.socket() as listener:  # accepts connections (kernel backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        start, end = data.window()
        t = time.monotonic()
        with pytest.raises(SourceUnavailable, match=r"did not answer within 0\.3s"):
            LokiLogSource(url, 0.3).query(data.success_query(), from_ns(start), from_ns(end))
        assert time.monotonic() - t < 5


class _FileServer(http.server.SimpleHTTPRequestHandler):
    seen_headers: list[dict[str, str]] = []  # noqa: RUF012 (a test server's own log)

    def do_GET(self) -> None:
        type(self).seen_headers.append(dict(self.headers))
        self.path = self.path.split("?", 1)[0]
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on loopback serving files from tmp_path."""

    def handler(*args: object, **kwargs: object) -> _FileServer:
        return _FileServer(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_recording_filters_credentials(tmp_path: Path, file_server: str) -> None:
    # Serve a Loki response body as a file, record a query against it with the cassettes'
    # configuration, and check what the written cassette holds.
    recorded = yaml.safe_load((CASSETTES / "query_range_streams.yaml").read_text())
    body = recorded["interactions"][0]["response"]["body"]["string"]
    target = tmp_path / "loki/api/v1/query_range"
    target.parent.mkdir(parents=True)
    target.write_text(body)
    _FileServer.seen_headers.clear()
    source = LokiLogSource(file_server, 5.0, headers={"Authorization": "Bearer s3cret"}, tenant="team-a")
    start, end = data.window()
    out = tmp_path / "cassettes"
    cassette = vcr.VCR(
        cassette_library_dir=str(out),
        record_mode="all",
        match_on=["method", "path", "query"],
        filter_headers=FILTERED,
    )
    with cassette.use_cassette("recorded.yaml"):
        lines = source.query(data.success_query(), from_ns(start), from_ns(end))
    assert len(lines) == 7
    sent = _FileServer.seen_headers[0]
    assert sent["X-Scope-OrgID"] == "team-a" and sent["Authorization"] == "Bearer s3cret"
    text = (out / "recorded.yaml").read_text()
    assert "s3cret" not in text and "team-a" not in text
    headers = yaml.safe_load(text)["interactions"][0]["request"]["headers"]
    assert not {h.lower() for h in headers} & set(FILTERED)


def test_parse_streams_accepts_structured_metadata_and_refuses_other_shapes() -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [
                {"stream": {"app": "a"}, "values": [["20", "second", {"trace_id": "abc"}], ["30", "third"]]},
                {"stream": {"app": "b"}, "values": [["10", "first"]]},
            ],
        },
    }
    assert [(ns, e.line, e.labels["app"]) for ns, _, e in parse_streams(body)] == [
        (10, "first", "b"),
        (20, "second", "a"),
        (30, "third", "a"),
    ]
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    with pytest.raises(SourceUnavailable, match="'matrix' result"):
        parse_streams(matrix)
    broken = {"status": "success", "data": {"resultType": "streams", "result": [{"values": [["x"]]}]}}
    with pytest.raises(SourceUnavailable, match="malformed streams result"):
        parse_streams(broken)
    with pytest.raises(SourceUnavailable, match="refused the query: bad things"):
        parse_streams({"status": "error", "error": "bad things"})
