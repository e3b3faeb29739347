"""Template summaries: counts around an onset, ranked by change, never the raw flood."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.adapters.logs.jsonl import JsonlLogSource
from bot.analysis.logtemplates import (
    SAMPLE_CHARS,
    crash_signals,
    level_of,
    new_error_templates,
    new_miner,
    summarize,
)
from bot.ports.logs import LogLine, LogQuery, Matcher

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
ONSET = T0 + timedelta(minutes=58)


def at(minute: float, line: str, app: str = "checkout") -> LogLine:
    return LogLine(ts=T0 + timedelta(minutes=minute), line=line, labels={"namespace": "shop", "app": app})


def incident() -> list[LogLine]:
    """An hour of access logs and a steady, loud error; after 00:58 a new exception and a crash."""
    out = []
    for i in range(600):
        minute = i / 10
        out.append(
            at(minute, f"level=info method=GET path=/api/items/{i} status=200 duration={i % 90 + 3}ms")
        )
        if i % 3 == 0:
            out.append(at(minute, f'level=error msg="feature flags stale" age={i}s', app="flags"))
        if minute >= 58:
            out.append(
                at(minute, f'level=error msg="unhandled exception" err="KeyError: {i}" order_id={i * 7919}')
            )
    out.append(at(59.5, "Last State: Terminated, Reason: OOMKilled, exit code 137", app="worker"))
    return out


def test_masking_keeps_messages_and_hides_variables() -> None:
    mask = new_miner().masker.mask
    line = (
        '2026-11-25T00:58:03.120Z level=error msg="user 42 not found" user="bob" '
        "id=3f2b8c1e-1d2a-4b7c-9e0f-a1b2c3d4e5f6 from=10.1.2.3:8080 sha=9c5e77e5d360 ptr=0xdeadbeef "
        "took=1.5s wait=250ms status=500 version=3.20.0"
    )
    assert mask(line) == (
        '<TS> level=error msg="user <NUM> not found" user="<STR>" id=<UUID> from=<IP> sha=<HEX> '
        "ptr=<HEX> took=<DURATION> wait=<DURATION> status=<NUM> version=<NUM>"
    )
    assert mask('{"level":"warn","msg":"slow","path":"/x/1","n":12}') == (
        '{"level":"warn","msg":"slow","path":"<STR>","n":<NUM>}'
    )


def test_levels_from_fields_then_keywords() -> None:
    assert level_of("level=error msg=x") == "error"
    assert level_of('{"level":"WARNING","msg":"x"}') == "warn"
    assert level_of('level=info msg="request failed, retried"') == "info"  # the field wins
    assert level_of("panic: runtime error: index out of range") == "error"
    assert level_of("java.lang.NullPointerException at Foo.bar") == "error"
    assert level_of("TypeError: x is undefined") == "error"
    assert level_of("Traceback (most recent call last):") == "error"
    assert level_of("GET /healthz 200") == "info"


def test_new_error_template_ranks_first_with_counts_around_the_onset() -> None:
    summary = summarize(incident(), ONSET)
    top = summary.templates[0]
    assert "unhandled exception" in top.template and top.origin == "checkout"
    assert (top.before, top.after, top.level) == (0, 20, "error")
    assert top.first_seen == ONSET
    assert summary.observation(top).startswith(
        '20 \'level=error msg="unhandled exception" err="KeyError: <NUM>" order_id=<NUM>\' '
        "lines from checkout"
    )
    assert summary.observation(top).endswith("since 00:58, none before")
    # The steady error is loud (200 lines) but did not change: it ranks below the new ones.
    steady = next(t for t in summary.templates if t.origin == "flags")
    assert steady.before == 194 and steady.after == 6
    assert summary.templates.index(steady) > summary.templates.index(top)
    assert ", 194 before (" in summary.observation(steady)
    assert summary.total == len(incident()) and summary.dropped == 0


def test_templates_cluster_variable_lines() -> None:
    summary = summarize(incident(), ONSET)
    access = next(t for t in summary.templates if t.level == "info")
    assert access.count == 600 and access.template.count("<") >= 3
    assert summary.template_count == 4


def test_samples_are_short_distinct_and_from_after_the_onset() -> None:
    lines = [at(10, "level=error msg=boom before")] + [
        at(59, "level=error msg=boom " + "x" * 1000 + f"\x1b[31m\n{i}") for i in range(5)
    ]
    summary = summarize(lines, ONSET)
    stat = summary.templates[0]
    assert len(stat.samples) == 3
    assert all(len(s) <= SAMPLE_CHARS and "\n" not in s and "\x1b" not in s for s in stat.samples)
    assert all("before" not in s for s in stat.samples)


def test_crash_signals_and_new_errors() -> None:
    summary = summarize(incident(), ONSET)
    crashes = crash_signals(summary)
    assert [c.origin for c in crashes] == ["worker"] and "OOMKilled" in crashes[0].template
    assert crashes[0].level == "error"  # from the keywords, no level field
    new = new_error_templates(summary)
    assert [n.origin for n in new] == ["checkout", "worker"]
    for text in [
        "panic: send on closed channel",
        "Back-off restarting failed container (CrashLoopBackOff)",
        "fatal error: out of memory",
        "process exited with exit code 1",
        "segfault at 0 ip",
    ]:
        assert crash_signals(summarize([at(59, text)], ONSET)), text
    assert not crash_signals(summarize([at(59, 'level=error msg="upstream request failed"')], ONSET))


def test_without_onset_crashes_then_errors_rank_by_count() -> None:
    summary = summarize(incident(), None)
    assert [t.level for t in summary.templates[:3]] == ["error", "error", "error"]
    # A crash first, then the loudest error.
    assert [t.origin for t in summary.templates[:2]] == ["worker", "flags"]
    assert new_error_templates(summary) == []
    assert " between 00:00 and " in summary.observation(summary.templates[1])


def test_max_templates_counts_what_was_left_out() -> None:
    summary = summarize(incident(), ONSET, max_templates=2)
    assert len(summary.templates) == 2 and summary.template_count == 4
    assert summary.dropped == summary.total - sum(t.count for t in summary.templates)
    assert summarize([], ONSET).templates == []


def test_same_template_from_two_services_is_kept_apart() -> None:
    lines = [
        at(59, f'level=error msg="upstream request failed" peer=db status={s}', app=a)
        for a in ("cart", "web")
        for s in (502, 503)
    ]
    summary = summarize(lines, ONSET)
    assert sorted((t.origin, t.after) for t in summary.templates) == [("cart", 2), ("web", 2)]


def test_json_lines_cluster_by_message() -> None:
    lines = [at(59, json.dumps({"level": "error", "msg": "db timeout", "query_ms": i})) for i in range(5)]
    lines += [at(20, json.dumps({"level": "info", "msg": "served", "path": f"/p/{i}"})) for i in range(5)]
    summary = summarize(lines, ONSET)
    assert [(t.level, t.before, t.after) for t in summary.templates] == [("error", 0, 5), ("info", 5, 0)]


# -- the example scenarios --------------------------------------------------------------------


def _release_time(scenario: Path, tmp_path: Path) -> datetime:
    """The newest commit of the scenario's GitOps repository: the release, in bad_deploy ones."""
    checkout = tmp_path / scenario.name
    subprocess.run(
        ["git", "clone", "-q", str(scenario / "repo.bundle"), str(checkout), "-b", "main"], check=True
    )
    out = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%cI"], check=True, capture_output=True
    )
    return datetime.fromisoformat(out.stdout.decode().strip())


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "service"),
    [("example-03-bad_deploy", "recommendations"), ("example-05-bad_deploy-downstream", "auth")],
)
def test_examples_new_error_after_the_release_ranks_first(
    shared_dir: Path, tmp_path: Path, name: str, service: str
) -> None:
    scenario = shared_dir / "scenarios" / "examples" / name
    meta = json.loads((scenario / "scenario.json").read_text())
    at_ = datetime.fromtimestamp(meta["at"], UTC)
    source = JsonlLogSource(scenario / "logs.jsonl.gz")
    lines = source.query(
        LogQuery((Matcher("namespace", "=~", ".+"),), limit=50_000), at_ - timedelta(hours=2), at_
    )
    onset = _release_time(scenario, tmp_path)
    summary = summarize(lines, onset)
    top = summary.templates[0]
    assert top.origin == service and top.level == "error" and top.is_new
    assert "unhandled exception" in top.template
    assert new_error_templates(summary)[0] is top
    assert summary.observation(top).endswith(f"since {onset:%H:%M}, none before")
    assert summary.total == len(lines) and len(summary.templates) <= 10
    # The steady "feature flags" error is in the logs before and after: never ranked first.
    assert "feature flags" not in top.template


@pytest.mark.shared
def test_examples_without_a_bad_deploy_show_no_new_exception(shared_dir: Path) -> None:
    for name in ("example-00-traffic_surge", "example-01-cpu_limit", "example-04-transient"):
        scenario = shared_dir / "scenarios" / "examples" / name
        meta = json.loads((scenario / "scenario.json").read_text())
        at_ = datetime.fromtimestamp(meta["at"], UTC)
        lines = JsonlLogSource(scenario / "logs.jsonl.gz").query(
            LogQuery((Matcher("namespace", "=~", ".+"),), limit=50_000), at_ - timedelta(hours=2), at_
        )
        summary = summarize(lines, at_ - timedelta(minutes=30))
        assert not any("unhandled exception" in t.template for t in new_error_templates(summary)), name
        assert not crash_signals(summary), name


def test_naive_onset_is_utc_and_times_print_in_utc() -> None:
    summary = summarize(incident(), ONSET.replace(tzinfo=None))
    assert summary.observation(summary.templates[0]).endswith("since 00:58, none before")
    local = ONSET.astimezone(timezone(timedelta(hours=2)))
    assert summarize(incident(), local).observation(summary.templates[0]).endswith("since 00:58, none before")
