"""What a GitOps repository's manifests tell: the workloads they define, where a value takes
effect, and the edit planned to change it (``bot.ports.workspace.ManifestWorkspace``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.domain.proposal import FieldChange


@dataclass
class Workload:
    name: str
    kind: str
    file: str  # repository-relative path of the manifest (or of the chart's values.yaml)
    containers: list[str]
    namespace: str | None = None
    hpa_file: str | None = None
    hpa_name: str | None = None
    chart: str | None = None  # the chart directory when a Helm chart renders the workload
    values_prefix: str | None = None  # its section in an umbrella chart's values (e.g. cartService)

    @property
    def resource(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Effective:
    file: str  # the file whose value is the one that takes effect
    path: str  # where in that file, e.g. replicas[name=web].count
    value: Any  # in the field's units (replicas int, CPU cores, memory bytes, image text); None if unset
    explanation: str
    field: str = ""  # the Field_ that holds it (``hpa.maxReplicas`` when an HPA owns ``replicas``)
    document: str | None = None  # KIND/NAME of the document in a multi-document file
    container: str | None = None  # the container the value belongs to


@dataclass
class PlannedEdit:
    changes: list[FieldChange]
    diff: str
    new_texts: dict[str, str]
    notes: list[str] = field(default_factory=list)


def dig(data: Any, path: Sequence[str | int]) -> Any:
    """The value at ``path`` in parsed YAML (keys and list positions); None where it is absent."""
    for step in path:
        if isinstance(step, int):
            data = data[step] if isinstance(data, list) and -len(data) <= step < len(data) else None
        else:
            data = data.get(step) if isinstance(data, dict) else None
    return data
