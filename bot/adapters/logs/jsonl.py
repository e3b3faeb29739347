"""LogSource over a JSON Lines file: ``{"ts": RFC 3339, "labels": {...}, "line": "..."}`` per line.

Selection follows Loki: stream matchers over ``labels`` (regexes fully anchored, an absent
label matches as ""), then line filters, within [start, end], oldest first.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import threading
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bot.domain.deadline import Deadline
from bot.domain.errors import InvalidInput
from bot.ports.logs import LogLine, LogQuery

log = logging.getLogger(__name__)

# datetime.fromisoformat takes at most 6 fractional digits; RFC 3339 allows nanoseconds.
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_rfc3339(text: str) -> datetime:
    ts = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


class JsonlLogSource:
    """Reads the file once, on the first query, and keeps it indexed by time. Thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InvalidInput(
                f"logs file {self.path} does not exist or is not a file; "
                "pass a JSON Lines file with one {ts, labels, line} object per line"
            )
        self._lock = threading.Lock()
        self._loaded = False
        self._times: list[datetime] = []
        self._lines: list[str] = []
        self._stream_of: list[int] = []
        self._streams: list[dict[str, str]] = []
        self.malformed = 0  # lines skipped because they were not a valid log object
        self.first_malformed: int | None = None  # 1-based line number, for the message

    @property
    def total(self) -> int:
        self._load()
        return len(self._lines)

    @property
    def streams(self) -> list[dict[str, str]]:
        self._load()
        return [dict(s) for s in self._streams]

    def query(
        self, q: LogQuery, start: datetime, end: datetime, deadline: Deadline | None = None
    ) -> list[LogLine]:
        """A local file is read whole and quickly: ``deadline`` does not apply."""
        self._load()
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput("log query times must carry a timezone")
        if end < start:
            raise InvalidInput(f"log query ends before it starts ({start.isoformat()} > {end.isoformat()})")
        wanted = {i for i, labels in enumerate(self._streams) if q.matches_stream(labels)}
        if not wanted:
            return []
        lo, hi = bisect_left(self._times, start), bisect_right(self._times, end)
        out: list[LogLine] = []
        for i in range(lo, hi):
            stream = self._stream_of[i]
            if stream not in wanted:
                continue
            text = self._lines[i]
            if q.filters and not q.matches_line(text):
                continue
            # A copy per returned line: callers may not mutate the indexed labels.
            out.append(LogLine(ts=self._times[i], line=text, labels=dict(self._streams[stream])))
            if len(out) >= q.limit:
                break
        return out

    # -- loading -------------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._read()
            self._loaded = True

    def _open(self) -> IO[str]:
        if self.path.suffix == ".gz":
            return gzip.open(self.path, "rt", encoding="utf-8", errors="replace")
        return self.path.open("r", encoding="utf-8", errors="replace")

    def _read(self) -> None:
        stream_ids: dict[tuple[tuple[str, str], ...], int] = {}
        rows: list[tuple[datetime, int, str]] = []
        try:
            fh = self._open()
        except OSError as exc:
            raise InvalidInput(f"cannot read logs file {self.path}: {exc.strerror or exc}") from None
        with fh:
            try:
                for number, raw in enumerate(fh, start=1):
                    if not raw.strip():
                        continue
                    parsed = _parse(raw)
                    if parsed is None:
                        self.malformed += 1
                        self.first_malformed = self.first_malformed or number
                        continue
                    ts, labels, line = parsed
                    key = tuple(sorted(labels.items()))
                    stream = stream_ids.get(key)
                    if stream is None:
                        stream = stream_ids[key] = len(self._streams)
                        self._streams.append(dict(key))
                    rows.append((ts, stream, line))
            except (OSError, EOFError) as exc:  # e.g. a truncated .gz
                raise InvalidInput(f"cannot read logs file {self.path}: {exc}") from None
        rows.sort(key=lambda r: r[0])  # stable: equal timestamps keep file order
        self._times = [r[0] for r in rows]
        self._stream_of = [r[1] for r in rows]
        self._lines = [r[2] for r in rows]
        if self.malformed:
            log.warning(
                "skipped %d malformed line(s) in %s (first at line %d)",
                self.malformed,
                self.path,
                self.first_malformed,
            )


def _parse(raw: str) -> tuple[datetime, dict[str, str], str] | None:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    ts, labels, line = obj.get("ts"), obj.get("labels", {}), obj.get("line")
    if not isinstance(ts, str) or not isinstance(line, str) or not isinstance(labels, dict):
        return None
    try:
        when = parse_rfc3339(ts)
    except ValueError:
        return None
    return when, {str(k): str(v) for k, v in labels.items()}, line
