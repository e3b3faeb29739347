"""What ManifestRepo reports: workloads, where a value takes effect, and planned edits."""

from __future__ import annotations

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
