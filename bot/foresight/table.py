"""Reading metric CSV files: a header row, timestamps as unix seconds, RFC3339 or NAB's
'YYYY-MM-DD HH:MM:SS' (UTC when no offset is given), and numeric values (empty = missing)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.domain.errors import InvalidInput


@dataclass(frozen=True)
class Rows:
    """Columns of a CSV file as read: the raw text of each requested column, and line numbers."""

    path: Path
    columns: dict[str, list[str]]
    lines: list[int]


def read_columns(path: Path, wanted: tuple[str, ...]) -> Rows:
    if not path.is_file():
        raise InvalidInput(f"input file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in wanted if c not in header]
            if missing:
                raise InvalidInput(
                    f"{path}: missing column(s) {', '.join(missing)}; "
                    f"the header must name {','.join(wanted)} (found: {','.join(header) or 'nothing'})"
                )
            index = [header.index(c) for c in wanted]
            columns: dict[str, list[str]] = {c: [] for c in wanted}
            lines = []
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) < len(header):
                    raise InvalidInput(f"{path} line {reader.line_num}: expected {len(header)} fields")
                for name, k in zip(wanted, index, strict=True):
                    columns[name].append(row[k].strip())
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not a UTF-8 text CSV file") from None
    return Rows(path, columns, lines)


def numbers(rows: Rows, column: str) -> np.ndarray:
    """The column as floats; an empty cell is missing (NaN), anything else non-numeric is an error."""
    out = np.empty(len(rows.lines))
    for k, (text, line) in enumerate(_cells(rows, column)):
        if text == "":
            out[k] = np.nan
            continue
        try:
            out[k] = float(text)
        except ValueError:
            raise InvalidInput(f"{rows.path} line {line}: {column} {text!r} is not a number") from None
    return out


def unix_seconds(rows: Rows, column: str = "timestamp") -> np.ndarray:
    out = np.empty(len(rows.lines))
    for k, (text, line) in enumerate(_cells(rows, column)):
        try:
            out[k] = parse_timestamp(text)
        except ValueError:
            raise InvalidInput(
                f"{rows.path} line {line}: timestamp {text!r} is not unix seconds, RFC3339 "
                "or 'YYYY-MM-DD HH:MM:SS'"
            ) from None
    return out


def parse_timestamp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _cells(rows: Rows, column: str) -> Iterator[tuple[str, int]]:
    return zip(rows.columns[column], rows.lines, strict=True)
