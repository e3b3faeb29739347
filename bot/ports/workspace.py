"""The GitOps repository's manifests: the workloads they define, where each value is effectively
set, and the minimal edit that changes it (``bot.adapters.manifests.workspace.ManifestRepo``).

A workspace is a snapshot: it reads the files once, when it is opened. Values are in the field's
units: replicas an int, CPU in cores, memory in bytes, an image as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from bot.domain.manifest import Effective, PlannedEdit, Workload

__all__ = [
    "CurrentWorkspace",
    "Effective",
    "ManifestWorkspace",
    "OpenWorkspace",
    "PlannedEdit",
    "Workload",
]


class ManifestWorkspace(Protocol):
    def workloads(self) -> list[Workload]:
        """Every workload the manifests and Helm charts define, by name."""
        ...

    def find(self, name: str, kind: str | None = None, namespace: str | None = None) -> Workload:
        """The workload called ``name``; when several files define it, the one production builds.
        InvalidInput, naming the workloads there are, when none is called so."""
        ...

    def effective(self, workload: Workload | str, field: str, container: str | None = None) -> Effective:
        """Where ``field`` (replicas, cpu, cpu_request, memory, memory_request, image, hpa.*) of
        the workload takes effect: overlay, patch, Helm values, autoscaler or the manifest."""
        ...

    def plan(
        self, workload: Workload | str, field: str, value: Any, container: str | None = None
    ) -> PlannedEdit:
        """The minimal edit that makes ``field`` take ``value``, made where it takes effect."""
        ...

    def plan_all(
        self, workload: Workload | str, values: Sequence[tuple[str, Any]], container: str | None = None
    ) -> PlannedEdit:
        """One edit that sets several (field, value) pairs of a workload, each planned on the
        files as the ones before it left them."""
        ...

    def autoscaler(self, workload: Workload) -> dict[str, Any] | None:
        """A copy of the HorizontalPodAutoscaler document that scales the workload, if any."""
        ...


# Opens the manifests of a checkout directory.
OpenWorkspace = Callable[[Path], ManifestWorkspace]
# Opens the manifests as the repository has them now (fetching its newest commit first).
CurrentWorkspace = Callable[[], ManifestWorkspace]
