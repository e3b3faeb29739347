"""GitOps sync status: what Argo CD or Flux reports about the application that deploys a
service. The post-merge watch reads it to tell "not applied yet" from "applied, not helping"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

_TOOL_NAMES = {"argocd": "Argo CD", "flux": "Flux"}


@dataclass(frozen=True)
class SyncStatus:
    tool: str  # "argocd" or "flux"
    app: str
    sync: str  # Argo CD: Synced, OutOfSync, Unknown; Flux: Ready, NotReady, Reconciling
    health: str | None = None  # Argo CD only: Healthy, Progressing, Degraded, Missing, ...
    revision: str | None = None  # what Flux applied last, when it exports it

    @property
    def settled(self) -> bool:
        """The tool reports the desired state applied (and, for Argo CD, healthy)."""
        if self.tool == "argocd":
            return self.sync == "Synced" and self.health in (None, "Healthy")
        return self.sync == "Ready"

    def text(self, merge_sha: str | None = None) -> str:
        """``Argo CD `checkout`: Synced, Healthy at `3f2a…``, and whether that is the merge."""
        parts = [self.sync, *([self.health] if self.health else [])]
        revision = f" at `{self.revision[:40]}`" if self.revision else ""
        if self.revision and merge_sha:
            revision += " (the merge)" if merge_sha in self.revision else " (not the merge yet)"
        return f"{_TOOL_NAMES.get(self.tool, self.tool)} `{self.app}`: {', '.join(parts)}{revision}"


class GitOpsSync(Protocol):
    """The sync status of the application that deploys a service, as of a moment."""

    @property
    def tool(self) -> str:
        """``argocd``, ``flux`` or ``none``."""
        ...

    @property
    def configured(self) -> bool: ...

    def app_name(self, service: str | None, namespace: str | None) -> str:
        """The application's name; raises ``InvalidInput`` on a bad name template."""
        ...

    def status(self, service: str | None, namespace: str | None, at: datetime) -> SyncStatus | None:
        """None when the tool exports nothing for the application; raises ``SourceUnavailable``."""
        ...
