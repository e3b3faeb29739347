"""Argo CD's API with a read-only token, served by a real HTTP server on loopback: the sync
status, the synced revision (the merge or not yet), a refused token, an unknown application."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.adapters.gitops_status import GitOpsStatus
from bot.adapters.prometheus import PrometheusMetrics
from bot.domain.errors import SourceUnavailable
from testkit.asgi_server import serving
from testkit.promserver import free_port
from tests.verify.conftest import MERGED, at, settings_for

TOKEN = "argocd-read-only"
REVISION = "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"


async def application(request: Request) -> JSONResponse:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return JSONResponse({"error": "invalid session", "code": 16}, status_code=401)
    name = request.path_params["name"]
    if name != "shop/checkout":
        return JSONResponse({"error": "not found", "code": 5}, status_code=404)
    return JSONResponse(
        {
            "metadata": {"name": name, "namespace": "argocd"},
            "status": {
                "sync": {"status": "Synced", "revision": REVISION},
                "health": {"status": "Progressing"},
            },
        }
    )


@pytest.fixture
def argocd_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/api/v1/applications/{name:path}", application)])
    with serving(app) as url:
        yield url


def _status(argocd_url: str, token: str, template: str = "{namespace}/{service}") -> GitOpsStatus:
    prometheus = f"http://127.0.0.1:{free_port()}"  # unused: the API is read instead
    settings = settings_for(
        prometheus, gitops_tool="argocd", gitops_app=template, argocd_url=argocd_url, argocd_token=token
    )
    return GitOpsStatus(PrometheusMetrics(prometheus), settings)


def test_sync_health_and_revision_come_from_the_api(argocd_url: str) -> None:
    status = _status(argocd_url, TOKEN).status("checkout", "shop", at(MERGED))
    assert status is not None and not status.settled  # synced, but still rolling out
    assert (status.sync, status.health, status.revision) == ("Synced", "Progressing", REVISION)
    assert (
        status.text(REVISION) == f"Argo CD `shop/checkout`: Synced, Progressing at `{REVISION}` (the merge)"
    )
    assert status.text("0" * 40).endswith("(not the merge yet)")


def test_unknown_application_and_refused_token(argocd_url: str) -> None:
    assert _status(argocd_url, TOKEN, "{service}").status("checkout", "shop", at(MERGED)) is None
    with pytest.raises(
        SourceUnavailable, match="refused the token \\(401\\) for application 'shop/checkout'"
    ):
        _status(argocd_url, "stolen").status("checkout", "shop", at(MERGED))
