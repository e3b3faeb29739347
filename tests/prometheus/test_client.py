"""The Prometheus adapter against a real Prometheus loaded by promtool."""

import http.server
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import numpy as np
import pytest

from bot.adapters.prometheus import Matcher, PrometheusMetrics, selector
from bot.adapters.prometheus.recording import RecordingAdapter, ReplayAdapter
from bot.domain.errors import SourceUnavailable
from testkit.promserver import free_port, running_prometheus

pytestmark = pytest.mark.prometheus

END = 1_790_000_000  # a fixed past moment: queries are always "as of", never the wall clock
START = END - 3600


def _openmetrics(path: Path) -> Path:
    lines = ["# TYPE http_requests counter", "# TYPE kube_deployment_spec_replicas gauge"]
    for i, ts in enumerate(range(START, END + 1, 30)):
        for svc, rate in (("web", 10.0), ('we"ird', 2.0)):
            lines.append(
                f'http_requests_total{{namespace="shop",service="{svc.replace(chr(34), chr(92) + chr(34))}",'
                f'code="200"}} {rate * 30 * i} {ts}'
            )
        lines.append(
            f'kube_deployment_spec_replicas{{namespace="shop",deployment="web"}} {3 if i < 60 else 5} {ts}'
        )
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def prom_url(prometheus_binaries: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = _openmetrics(tmp_path_factory.mktemp("om") / "metrics.om")
    with running_prometheus(data) as url:
        yield url


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def test_instant_and_range_queries_as_of_a_moment(prom_url: str) -> None:
    prom = PrometheusMetrics(prom_url)
    replicas = prom.instant(selector("kube_deployment_spec_replicas", Matcher("deployment", "web")), _at(END))
    assert [s.values[0] for s in replicas] == [5.0]
    early = prom.instant("kube_deployment_spec_replicas", _at(START + 600))
    assert early[0].values[0] == 3.0
    rate = prom.range(
        'sum by (service) (rate(http_requests_total{namespace="shop"}[5m]))', _at(END - 1800), _at(END), 60
    )
    by_service = {s.labels["service"]: s for s in rate}
    assert set(by_service) == {"web", 'we"ird'}
    assert np.allclose(by_service["web"].values, 10.0, rtol=0.05)
    assert by_service["web"].timestamps[0] == END - 1800


def test_escaped_label_values_match_exactly(prom_url: str) -> None:
    prom = PrometheusMetrics(prom_url)
    weird = prom.instant(selector("http_requests_total", Matcher("service", 'we"ird')), _at(END))
    assert len(weird) == 1 and weird[0].labels["service"] == 'we"ird'


def test_series_and_metric_names(prom_url: str) -> None:
    prom = PrometheusMetrics(prom_url)
    names = prom.metric_names(_at(START), _at(END))
    assert {"http_requests_total", "kube_deployment_spec_replicas"} <= set(names)
    labels = prom.series('http_requests_total{service="web"}', _at(START), _at(END))
    assert labels == [
        {"__name__": "http_requests_total", "code": "200", "namespace": "shop", "service": "web"}
    ]


def test_a_query_is_never_run_twice(prom_url: str) -> None:
    prom = PrometheusMetrics(prom_url)
    for _ in range(3):
        prom.instant("up", _at(END))
        prom.range("up", _at(START), _at(END), 60)
    assert prom.queries_run == 2


def test_a_bad_query_is_a_clear_error(prom_url: str) -> None:
    with pytest.raises(SourceUnavailable) as err:
        PrometheusMetrics(prom_url).instant("sum(rate(", _at(END))
    assert "refused the query" in str(err.value)


def test_unreachable_prometheus_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceUnavailable) as err:
        PrometheusMetrics(url, timeout_s=2).instant("up", _at(END))
    assert f"cannot connect to Prometheus at {url}: connection refused" in str(err.value)


def test_record_then_replay_without_a_server(prom_url: str, tmp_path: Path) -> None:
    recorder = RecordingAdapter()
    live = PrometheusMetrics(prom_url, transport=recorder)
    query = "sum(kube_deployment_spec_replicas)"
    expected = live.range(query, _at(END - 600), _at(END), 60)
    names = live.metric_names(_at(START), _at(END))
    recorder.save(tmp_path / "rec.json")

    replay = PrometheusMetrics(
        "http://prometheus.invalid:9090", transport=ReplayAdapter.load(tmp_path / "rec.json")
    )
    again = replay.range(query, _at(END - 600), _at(END), 60)
    assert np.array_equal(again[0].values, expected[0].values)
    assert replay.metric_names(_at(START), _at(END)) == names
    with pytest.raises(SourceUnavailable, match="re-record"):
        replay.instant("up", _at(END - timedelta(minutes=1).seconds))


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status named by the first path segment (e.g. /429/...),
    and a Retry-After of N seconds for /429+N/..."""

    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        code, _, retry_after = self.path.strip("/").split("/")[0].partition("+")
        body = b'{"status":"error","errorType":"x","error":"too many queries"}'
        self.send_response(int(code))
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rate_limits_are_retried_then_named(refusing_server: str) -> None:
    url = f"{refusing_server}/429"
    _Refusing.hits = 0
    with pytest.raises(SourceUnavailable) as err:
        PrometheusMetrics(url, timeout_s=2).instant("up", _at(END))
    assert _Refusing.hits == 3  # retried within the budget, then given up
    assert f"Prometheus at {url} is rate limiting queries (HTTP 429) after 3 attempts" in str(err.value)


def test_retry_after_is_honoured_within_the_budget(refusing_server: str) -> None:
    url = f"{refusing_server}/503+1"
    _Refusing.hits = 0
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as err:
        PrometheusMetrics(url, timeout_s=2, budget_s=5).instant("up", _at(END))
    took = time.monotonic() - started
    assert _Refusing.hits == 3 and 2.0 <= took < 5.0  # waited the second asked for, twice
    assert "(HTTP 503) after 3 attempts and asked to wait 1 s" in str(err.value)


def test_a_retry_after_beyond_the_budget_ends_the_query_at_once(refusing_server: str) -> None:
    url = f"{refusing_server}/429+30"
    _Refusing.hits = 0
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as err:
        PrometheusMetrics(url, timeout_s=2, budget_s=5).range("up", _at(END - 600), _at(END), 60)
    assert _Refusing.hits == 1 and time.monotonic() - started < 2.0
    assert f"Prometheus at {url} is rate limiting queries (HTTP 429) and asked to wait 30 s" in str(err.value)


def test_retry_after_reads_seconds_and_dates() -> None:
    from bot.adapters.prometheus.client import _retry_after

    assert _retry_after("3") == 3.0 and _retry_after("-1") == 0.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= (_retry_after(later) or 0) <= 60
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_a_wrong_url_is_called_not_found(refusing_server: str) -> None:
    url = f"{refusing_server}/404"
    with pytest.raises(SourceUnavailable) as err:
        PrometheusMetrics(url, timeout_s=2).metric_names(_at(START), _at(END))
    assert f"Prometheus at {url} answered HTTP 404 (not found there): is {url} Prometheus's base URL?" in str(
        err.value
    )
