"""The fields ``resources`` edits, by their command-line names; apart so that the CLI can list them
in its help without loading the YAML parsers."""

from __future__ import annotations

FIELDS = (
    "replicas",
    "cpu-request",
    "cpu-limit",
    "memory-request",
    "memory-limit",
    "image",
    "hpa-min-replicas",
    "hpa-max-replicas",
)
