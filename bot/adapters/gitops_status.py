"""GitOps sync status as Argo CD and Flux export it to Prometheus.

Tugboat holds no cluster credentials, so it reads what both tools already publish:

* Argo CD: ``argocd_app_info{name, sync_status, health_status}`` (one series per application).
* Flux: ``gotk_reconcile_condition{kind, name, type="Ready", status}`` (value 1 on the current
  status), and ``gotk_resource_info{customresource_kind, name, ready, revision}`` that Flux 2.1+
  exports through kube-state-metrics instead.

With ``argocd_url`` and a read-only ``ARGOCD_AUTH_TOKEN``, Argo CD's own API is read instead
(``GET /api/v1/applications/<name>``), which also names the synced revision.

Label values are put into PromQL only through ``bot.ports.promql``.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import requests

from bot.domain.errors import InvalidInput, SourceUnavailable
from bot.ports.gitops import SyncStatus
from bot.ports.metrics import MetricsSource
from bot.ports.promql import Matcher, selector
from bot.settings import Settings

_FLUX_STATUS = {"True": "Ready", "False": "NotReady", "Unknown": "Reconciling"}


class GitOpsStatus:
    """The ``GitOpsSync`` port (bot/ports/gitops.py) on Prometheus or Argo CD's API: the sync
    status of the application that deploys a service, as of a moment."""

    def __init__(self, metrics: MetricsSource, settings: Settings) -> None:
        self.metrics = metrics
        self.tool = settings.gitops_tool
        self.template = settings.gitops_app
        self.flux_kind = settings.gitops_flux_kind
        self.api: ArgoCdApi | None = None
        if self.tool == "argocd" and settings.argocd_url and settings.argocd_token:
            token = settings.argocd_token.get_secret_value()
            self.api = ArgoCdApi(settings.argocd_url, token, settings.argocd_timeout_s)

    @property
    def configured(self) -> bool:
        return self.tool != "none"

    def app_name(self, service: str | None, namespace: str | None) -> str:
        try:
            name = self.template.format_map({"service": service or "", "namespace": namespace or ""})
        except (KeyError, ValueError, IndexError) as exc:
            raise InvalidInput(
                f"gitops_app {self.template!r} is not a valid name template ({exc}); "
                "use {service} and {namespace}, e.g. '{namespace}-{service}'"
            ) from None
        if not name.strip():
            raise InvalidInput("gitops_app gave an empty application name; set it, e.g. '{service}'")
        return name

    def status(self, service: str | None, namespace: str | None, at: datetime) -> SyncStatus | None:
        """The current status, or None when the tool exports nothing for this application.

        Raises ``SourceUnavailable`` when Prometheus cannot answer.
        """
        if not self.configured:
            return None
        app = self.app_name(service, namespace)
        if self.tool == "argocd":
            return self.api.status(app) if self.api is not None else self._argocd(app, at)
        return self._flux(app, at)

    def _argocd(self, app: str, at: datetime) -> SyncStatus | None:
        found = self.metrics.instant(selector("argocd_app_info", Matcher("name", app)), at)
        if not found:
            return None
        labels = sorted(found, key=lambda s: sorted(s.labels.items()))[0].labels
        return SyncStatus(
            "argocd", app, labels.get("sync_status", "Unknown"), labels.get("health_status") or None
        )

    def _flux(self, app: str, at: datetime) -> SyncStatus | None:
        conditions = self.metrics.instant(
            selector(
                "gotk_reconcile_condition",
                Matcher("kind", self.flux_kind),
                Matcher("name", app),
                Matcher("type", "Ready"),
            ),
            at,
        )
        current = [s for s in conditions if len(s.values) and s.values[-1] == 1]
        info = self.metrics.instant(
            selector(
                "gotk_resource_info", Matcher("customresource_kind", self.flux_kind), Matcher("name", app)
            ),
            at,
        )
        revision = next((s.labels["revision"] for s in info if s.labels.get("revision")), None)
        if current:
            status = current[0].labels.get("status", "Unknown")
            return SyncStatus("flux", app, _FLUX_STATUS.get(status, status), revision=revision)
        if info:
            ready = info[0].labels.get("ready", "Unknown")
            return SyncStatus("flux", app, _FLUX_STATUS.get(ready, ready), revision=revision)
        return None


class ArgoCdApi:
    """Argo CD's REST API with a read-only token: the application's sync and health status now."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0) -> None:
        self.url, self.timeout_s = url.rstrip("/"), timeout_s
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def status(self, app: str) -> SyncStatus | None:
        """None when Argo CD has no such application."""
        where = f"{self.url}/api/v1/applications/{quote(app, safe='')}"
        try:
            resp = self._session.get(where, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise SourceUnavailable(f"cannot reach Argo CD at {self.url}: {type(exc).__name__}") from None
        if resp.status_code == 404:
            return None
        if resp.status_code in (401, 403):
            raise SourceUnavailable(
                f"Argo CD at {self.url} refused the token ({resp.status_code}) for application {app!r}: "
                "give ARGOCD_AUTH_TOKEN's account the role 'get' on applications"
            )
        if not resp.ok:
            raise SourceUnavailable(
                f"Argo CD at {self.url} answered {resp.status_code} for application {app!r}"
            )
        try:
            status = resp.json().get("status") or {}
        except ValueError:
            raise SourceUnavailable(
                f"Argo CD at {self.url} answered with something that is not JSON"
            ) from None
        sync, health = status.get("sync") or {}, status.get("health") or {}
        return SyncStatus(
            "argocd",
            app,
            str(sync.get("status") or "Unknown"),
            str(health.get("status")) if health.get("status") else None,
            revision=str(sync.get("revision")) if sync.get("revision") else None,
        )
