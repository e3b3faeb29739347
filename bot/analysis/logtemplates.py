"""Summarise log lines by template, so people and the LLM see counts, never floods.

Lines are masked (numbers, hex ids, UUIDs, IPs, durations, timestamps, quoted values) and
clustered with drain3's Drain miner, in memory. Each template is counted before and after an
onset, per emitting service, and ranked by how much it changed there: templates of errors that
appear only after the onset come first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Literal

from drain3 import TemplateMiner
from drain3.masking import AbstractMaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from bot.ports.logs import LogLine

Level = Literal["error", "warn", "info"]
SAMPLE_CHARS = 300
SAMPLES = 3
TEMPLATE_CHARS = 120
# Stream labels that name the emitting workload, most specific first.
ORIGIN_LABELS = ("app", "service", "app_kubernetes_io_name", "container", "job")

_LEVEL_FIELD = re.compile(
    r"""(?:\b(?:level|lvl|severity|loglevel)=|"(?:level|lvl|severity|loglevel)"\s*:\s*)"?([A-Za-z]+)""",
    re.IGNORECASE,
)
_LEVELS: dict[str, Level] = {
    **dict.fromkeys(
        ("error", "err", "fatal", "panic", "critical", "crit", "emerg", "alert", "dpanic"), "error"
    ),
    **dict.fromkeys(("warn", "warning"), "warn"),
}
_ERROR_WORDS = re.compile(
    r"\b(?:panic|fatal|exception|traceback|error|failed|failure|oomkilled|out of memory|segfault)\b",
    re.IGNORECASE,
)
# Class names such as TypeError or NullPointerException.
_ERROR_CLASS = re.compile(r"[a-z](?:Exception|Error)\b")
_WARN_WORDS = re.compile(r"\b(?:warn|warning|deprecated|retrying|timeout)\b", re.IGNORECASE)
_CRASH = re.compile(
    r"\b(?:panic|fatal|oomkill(?:ed)?|oom[- ]killer|segfault|segmentation fault|sigsegv|"
    r"exit(?:ed)? (?:with )?(?:code|status)|crashloopbackoff|out of memory)\b",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class QuotedValueMask(AbstractMaskingInstruction):
    """Masks quoted values of ``key="..."`` (logfmt) and ``"key": "..."`` (JSON), except those
    of message and severity keys: their text is what tells one template from another, and
    masking ``msg="..."`` would fold every message of a service into one template."""

    KEPT_KEYS: ClassVar[frozenset[str]] = frozenset(
        {"msg", "message", "err", "error", "reason", "event", "exception", "panic"}
        | {"level", "lvl", "severity", "logger", "component"}
    )
    PATTERN = re.compile(r'([A-Za-z_][\w.-]*)(=|"\s*:\s*)"((?:[^"\\]|\\.)*)"')

    def __init__(self) -> None:
        super().__init__("STR")

    def mask(self, content: str, mask_prefix: str, mask_suffix: str) -> str:
        if '"' not in content:
            return content
        masked = f'"{mask_prefix}{self.mask_with}{mask_suffix}"'

        def one(m: re.Match[str]) -> str:
            return m.group(0) if m.group(1).lower() in self.KEPT_KEYS else m.group(1) + m.group(2) + masked

        return self.PATTERN.sub(one, content)


class VariableMask(AbstractMaskingInstruction):
    """UUIDs, timestamps, IPs, hex ids, durations and numbers, in one regex pass.

    drain3's MaskingInstruction runs one ``re.sub`` per kind; seven passes cost ~1.4 s per
    100k lines, one alternation ~0.4 s. Branch order matters: the most specific kind wins.
    """

    KINDS: ClassVar[dict[str, str]] = {
        "UUID": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-])",
        "TS": r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?",
        "IP": r"\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.:-])",
        # 0x-prefixed, or bare ids (git SHAs, trace ids) of 8+ hex digits with a digit and a letter.
        "HEX": r"0x[0-9a-fA-F]+(?!\w)|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}(?!\w)",
        "DURATION": r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+(?!\w)",
        "NUM": r"\d+(?:\.\d+)*(?!\w)",
    }
    PATTERN = re.compile(r"(?<![\w.])(?:" + "|".join(f"(?P<{k}>{v})" for k, v in KINDS.items()) + ")")

    def __init__(self) -> None:
        super().__init__("VAR")

    def mask(self, content: str, mask_prefix: str, mask_suffix: str) -> str:
        return self.PATTERN.sub(lambda m: f"{mask_prefix}{m.lastgroup}{mask_suffix}", content)


def new_miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [QuotedValueMask(), VariableMask()]
    config.drain_sim_th = 0.4
    config.drain_depth = 4
    config.parametrize_numeric_tokens = True
    config.profiling_enabled = False
    return TemplateMiner(persistence_handler=None, config=config)


def level_of(text: str) -> Level:
    """From an explicit ``level=``/JSON ``level`` field, else from keywords."""
    explicit = _LEVEL_FIELD.search(text)
    if explicit:
        return _LEVELS.get(explicit.group(1).lower(), "info")
    if _ERROR_WORDS.search(text) or _ERROR_CLASS.search(text):
        return "error"
    return "warn" if _WARN_WORDS.search(text) else "info"


def is_crash(text: str) -> bool:
    return _CRASH.search(text) is not None


def _clean(text: str, limit: int) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _hhmm(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%H:%M")


def _per_min(rate: float) -> str:
    return f"{rate:.0f}/min" if rate >= 10 else f"{rate:.2g}/min"


@dataclass
class TemplateStat:
    template: str
    level: Level
    origin: str  # the emitting workload (an ``app``-like stream label), "" when unknown
    count: int = 0
    before: int = 0  # lines before the onset
    after: int = 0  # lines at or after the onset (all lines when there is no onset)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    samples: list[str] = field(default_factory=list)
    crash: bool = False

    @property
    def is_new(self) -> bool:
        """Seen after the onset and never before it."""
        return self.before == 0 and self.after > 0

    def short_template(self) -> str:
        return _clean(self.template, TEMPLATE_CHARS)


@dataclass
class LogSummary:
    templates: list[TemplateStat]
    total: int  # lines summarised
    dropped: int  # lines in templates left out of ``templates``
    template_count: int  # templates found, including those left out
    onset: datetime | None = None
    start: datetime | None = None  # oldest line
    end: datetime | None = None  # newest line

    def observation(self, stat: TemplateStat) -> str:
        """One line a person can read, e.g. ``412 'level=error msg=<*>' lines since 00:58, none before``."""
        where = f" from {stat.origin}" if stat.origin else ""
        # Single quotes around the template: templates often hold double-quoted messages.
        text = f"{stat.after if self.onset else stat.count} '{stat.short_template()}' lines{where}"
        if self.onset is None:
            if stat.first_seen and stat.last_seen:
                text += f" between {_hhmm(stat.first_seen)} and {_hhmm(stat.last_seen)}"
            return text
        text += f" since {_hhmm(self.onset)}"
        if stat.before == 0:
            return text + ", none before"
        before_rate, after_rate = self._rates(stat)
        return text + f", {stat.before} before ({_per_min(before_rate)} before, {_per_min(after_rate)} since)"

    def observations(self, n: int = 3) -> list[str]:
        return [self.observation(s) for s in self.templates[:n]]

    def _rates(self, stat: TemplateStat) -> tuple[float, float]:
        """Lines per minute before and after the onset, over the span the lines cover."""
        if self.onset is None or self.start is None or self.end is None:
            return 0.0, 0.0
        before_min = max((self.onset - self.start).total_seconds() / 60, 1.0)
        after_min = max((self.end - self.onset).total_seconds() / 60, 1.0)
        return stat.before / before_min, stat.after / after_min


_SEVERITY = {"error": 2, "warn": 1, "info": 0}


def _rank_key(stat: TemplateStat, summary: LogSummary) -> tuple[float, ...]:
    severity = _SEVERITY[stat.level] + (1 if stat.crash else 0)
    if summary.onset is None:
        return (-severity, -stat.count)
    before_rate, after_rate = summary._rates(stat)
    # Log-ratio of rates with a small prior, so 0 -> 5/min outranks 10 -> 12/min.
    growth = math.log2((after_rate + 0.05) / (before_rate + 0.05))
    if stat.is_new and severity >= 2:
        tier = 0
    elif severity >= 2 and growth >= 1:
        tier = 1
    elif severity == 1 and growth >= 1:
        tier = 2
    elif stat.is_new:
        tier = 3
    else:
        tier = 4
    if tier == 4:  # steady or fading: the loudest errors first
        return (tier, -severity, -stat.after, -stat.count)
    return (tier, -stat.after, -growth, -stat.count)


def summarize(lines: Sequence[LogLine], onset: datetime | None, max_templates: int = 10) -> LogSummary:
    """Cluster ``lines`` into templates and rank them by their change at ``onset``.

    A naive ``onset`` is taken as UTC, like naive log timestamps.
    """
    if onset is not None and onset.tzinfo is None:
        onset = onset.replace(tzinfo=UTC)
    miner = new_miner()
    # Masked text -> cluster id. Identical masked lines are clustered once: drain is the slow part.
    cluster_of: dict[str, int] = {}
    level_cache: dict[str, tuple[Level, bool]] = {}
    stats: dict[tuple[int, str], TemplateStat] = {}
    early: dict[tuple[int, str], list[str]] = {}
    start: datetime | None = None
    end: datetime | None = None
    mask = miner.masker.mask
    masked_of: dict[str, str] = {}  # exact repeats (health checks, retries) skip the regexes
    for entry in lines:
        masked = masked_of.get(entry.line)
        if masked is None:
            masked = masked_of[entry.line] = mask(entry.line)
        cluster = cluster_of.get(masked)
        if cluster is None:
            cluster = cluster_of[masked] = miner.drain.add_log_message(masked)[0].cluster_id
            level_cache[masked] = (level_of(entry.line), is_crash(entry.line))
        origin = _origin(entry.labels)
        key = (cluster, origin)
        stat = stats.get(key)
        if stat is None:
            level, crash = level_cache[masked]
            stat = stats[key] = TemplateStat(template="", level=level, origin=origin, crash=crash)
        elif stat.level != "error" or not stat.crash:
            level, crash = level_cache[masked]
            if _SEVERITY[level] > _SEVERITY[stat.level]:
                stat.level = level
            stat.crash = stat.crash or crash
        ts = entry.ts
        stat.count += 1
        if onset is not None and ts < onset:
            stat.before += 1
            if len(early.setdefault(key, [])) < SAMPLES:
                early[key].append(entry.line)
        else:
            stat.after += 1
            if len(stat.samples) < SAMPLES and entry.line not in stat.samples:
                stat.samples.append(entry.line)
        if stat.first_seen is None or ts < stat.first_seen:
            stat.first_seen = ts
        if stat.last_seen is None or ts > stat.last_seen:
            stat.last_seen = ts
        start = ts if start is None or ts < start else start
        end = ts if end is None or ts > end else end
    templates = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    for key, stat in stats.items():
        stat.template = templates.get(key[0], "")
        # Samples from after the onset; from before it only for templates that never came back.
        raw = stat.samples or early.get(key, [])
        stat.samples = [_clean(s, SAMPLE_CHARS) for s in dict.fromkeys(raw)]
    summary = LogSummary([], total=len(lines), dropped=0, template_count=len(stats), onset=onset)
    summary.start, summary.end = start, end
    ranked = sorted(stats.values(), key=lambda s: _rank_key(s, summary))
    summary.templates = ranked[: max(max_templates, 0)]
    summary.dropped = sum(s.count for s in ranked[len(summary.templates) :])
    return summary


def _origin(labels: dict[str, str]) -> str:
    for name in ORIGIN_LABELS:
        value = labels.get(name)
        if value:
            return value
    return ""


def new_error_templates(summary: LogSummary) -> list[TemplateStat]:
    """Error templates that appear after the onset and never before it, most frequent first."""
    if summary.onset is None:
        return []
    found = [s for s in summary.templates if s.level == "error" and s.is_new]
    return sorted(found, key=lambda s: -s.after)


def crash_signals(summary: LogSummary) -> list[TemplateStat]:
    """Templates that speak of a crash: panic, fatal, OOMKilled, segfault, exit code,
    CrashLoopBackOff, out of memory."""
    return [s for s in summary.templates if s.crash or is_crash(s.template)]
