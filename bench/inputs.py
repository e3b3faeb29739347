"""Where the benchmarks find the public data they are measured on.

The directory named by ``TUGBOAT_BENCH_DATA`` holds ``benchmarks/nab-subset/`` (NAB's labelled
series with its windows) and ``scenarios/examples/`` (incidents with their answers). A clone of
the project has neither: the benchmarks that need them take ``--data``/``--examples``, and
``make bench`` skips them when the variable is unset.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "TUGBOAT_BENCH_DATA"
NAB_SUBSET = ("benchmarks", "nab-subset")
EXAMPLES = ("scenarios", "examples")


def bench_data(*parts: str) -> Path | None:
    """``$TUGBOAT_BENCH_DATA/<parts>``, or None when the variable is unset."""
    root = os.environ.get(ENV)
    return Path(root, *parts) if root else None


def present(path: Path | None) -> bool:
    return path is not None and path.is_dir()


def missing(what: str, option: str) -> str:
    """The one line a benchmark prints when its data is not there."""
    return f"{what} not found: pass {option} DIR or set {ENV} (see bench/README.md)"
