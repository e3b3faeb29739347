import pytest

from bot.ports.promql import (
    Matcher,
    aggregate,
    by,
    duration,
    histogram_quantile,
    over_range,
    quote,
    regex_literal,
    selector,
)


def test_quote_escapes_everything_that_could_break_out() -> None:
    assert quote('a"b') == '"a\\"b"'
    assert quote("a\\b") == '"a\\\\b"'
    assert quote("line\nbreak") == '"line\\nbreak"'


def test_selector_renders_typed_matchers() -> None:
    promql = selector("http_requests_total", Matcher("namespace", "shop"), None, Matcher("code", "5..", "=~"))
    assert promql == 'http_requests_total{namespace="shop",code=~"5.."}'


def test_injection_in_a_label_value_stays_inside_the_string() -> None:
    evil = 'x"} or vector(1) or up{a="'
    promql = selector("up", Matcher("service", evil))
    assert promql == 'up{service="x\\"} or vector(1) or up{a=\\""}'


@pytest.mark.parametrize("bad", ["up{", "1abc", "a-b"])
def test_bad_metric_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        selector(bad)


def test_bad_label_names_are_refused() -> None:
    with pytest.raises(ValueError):
        Matcher('a"b', "x").render()
    with pytest.raises(ValueError):
        by(["namespace", "x) or (y"])


def test_regex_literal_escapes_metacharacters() -> None:
    assert regex_literal(["a.b", "c+d"]) == "a\\.b|c\\+d"


def test_aggregations_and_range_functions_compose() -> None:
    sel = selector("http_requests_total", Matcher("namespace", "shop"))
    rate = over_range("rate", sel, 300)
    assert rate == 'rate(http_requests_total{namespace="shop"}[300s])'
    assert aggregate("sum", rate, ("le", "pod")) == f"sum by (le, pod) ({rate})"
    assert aggregate("count", sel) == f"count ({sel})"
    assert histogram_quantile(0.99, rate) == f"histogram_quantile(0.99, {rate})"


def test_durations_are_whole_seconds_and_never_zero() -> None:
    assert duration(299.9) == "299s"
    assert duration(0.2) == "1s"


def test_grouping_labels_are_checked_and_quantiles_bounded() -> None:
    with pytest.raises(ValueError):
        aggregate("max", "up", ("pod) or vector(1",))
    with pytest.raises(ValueError):
        histogram_quantile(99, "x")
