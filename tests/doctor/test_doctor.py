"""``tugboat doctor`` against real local components: a real Prometheus, loopback HTTP servers in
the wire formats of Slack, GitHub, Loki and the OpenAI API, an unreachable port, SQLite
databases and a real git remote."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.services.doctor import CheckResult, Status, healthy, run_checks
from bot.services.doctor.hosted import SLACK_SCOPES, check_github, check_slack
from bot.services.doctor.infra import check_database, check_git, check_llm, check_loki, check_prometheus
from bot.settings import Settings
from tests.support.gitops import make_remote
from tests.support.promserver import free_port, running_prometheus

Answer = tuple[int, dict[str, str], Any]
Routes = dict[str, Callable[[], Answer]]
SECRET_NAMES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
)
SLACK_OK = {
    "ok": True,
    "url": "https://acme.slack.com/",
    "team": "Acme",
    "user": "tugboat",
    "user_id": "U0BOT",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets counts: no tugboat.yaml, no variables from the developer's shell."""
    monkeypatch.chdir(tmp_path)
    for name in [*Settings.model_fields, "config"]:
        monkeypatch.delenv(f"TUGBOAT_{name.upper()}", raising=False)
    for name in (*SECRET_NAMES, "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def serving(routes: Routes, seen: list[dict[str, str]] | None = None) -> Iterator[str]:
    """A threaded HTTP server on loopback answering ``routes`` (path -> status, headers, JSON);
    each request's headers are appended to ``seen`` before its route answers."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer()

        def _answer(self) -> None:
            if seen is not None:
                seen.append(dict(self.headers))
            route = routes.get(self.path.split("?")[0])
            status, headers, body = route() if route else (404, {}, {"message": "Not Found"})
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def unreachable() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


# -- Slack --------------------------------------------------------------------------------------


def slack_settings(url: str, **extra: Any) -> Settings:
    return Settings(slack_bot_token="xoxb-" + "1" * 12, slack_api_url=url + "/api/", **extra)


def test_slack_auth_ok_with_every_scope() -> None:
    scopes = {"x-oauth-scopes": ",".join(SLACK_SCOPES)}
    with serving({"/api/auth.test": lambda: (200, scopes, SLACK_OK)}) as url:
        result = check_slack(slack_settings(url, slack_signing_secret="s3cret-signing"), 2)
    assert result.status is Status.OK, result
    assert "tugboat in Acme" in result.detail


def test_required_scopes_are_those_the_app_manifest_asks_for() -> None:
    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "slack-app-manifest.yaml").read_text())
    assert set(SLACK_SCOPES) <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_slack_invalid_auth_says_which_token_to_fix() -> None:
    with serving({"/api/auth.test": lambda: (200, {}, {"ok": False, "error": "invalid_auth"})}) as url:
        result = check_slack(slack_settings(url), 2)
    assert result.status is Status.FAIL
    assert "invalid_auth" in result.detail and "SLACK_BOT_TOKEN" in result.fix


def test_slack_missing_scope_is_named() -> None:
    scopes = {"x-oauth-scopes": "chat:write,commands"}
    with serving({"/api/auth.test": lambda: (200, scopes, SLACK_OK)}) as url:
        result = check_slack(slack_settings(url), 2)
    assert result.status is Status.FAIL
    assert "files:write" in result.detail and "usergroups:read" in result.fix


def test_slack_without_a_transport_secret_is_a_warning() -> None:
    with serving({"/api/auth.test": lambda: (200, {}, SLACK_OK)}) as url:
        result = check_slack(slack_settings(url), 2)
    assert result.status is Status.WARN and "SLACK_SIGNING_SECRET" in result.fix


def test_slack_unreachable_and_unconfigured() -> None:
    assert check_slack(slack_settings(unreachable()), 2).status is Status.FAIL
    unset = check_slack(Settings(), 2)
    assert unset.status is Status.SKIPPED and "SLACK_BOT_TOKEN" in unset.fix


# -- GitHub (a token; PyGithub over loopback) ---------------------------------------------------


def repo_body(push: bool) -> dict[str, Any]:
    return {
        "id": 1,
        "name": "gitops",
        "full_name": "acme/gitops",
        "permissions": {"admin": False, "maintain": False, "push": push, "triage": push, "pull": True},
    }


def github_settings(url: str) -> Settings:
    return Settings(github_token="ghp_" + "x" * 36, github_repo="acme/gitops", github_api_url=url)


@pytest.mark.parametrize(("push", "status"), [(True, Status.OK), (False, Status.FAIL)])
def test_github_token_needs_write_access(push: bool, status: Status) -> None:
    with serving({"/repos/acme/gitops": lambda: (200, {}, repo_body(push))}) as url:
        result = check_github(github_settings(url), 2)
    assert result.status is status, result
    if not push:
        assert "Contents: read and write" in result.fix


def test_github_repository_not_visible() -> None:
    with serving({}) as url:
        result = check_github(github_settings(url), 2)
    assert result.status is Status.FAIL and "404" in result.detail and "repository access" in result.fix


def test_github_half_configured_says_what_is_missing() -> None:
    assert "TUGBOAT_GITHUB_REPO" in check_github(Settings(github_token="ghp_" + "x" * 36), 2).fix
    assert check_github(Settings(), 2).status is Status.SKIPPED
    app_only = check_github(Settings(github_repo="acme/gitops", github_app_id=12), 2)
    assert app_only.status is Status.FAIL and "TUGBOAT_GITHUB_APP_PRIVATE_KEY" in app_only.fix


# -- GitHub (an App: a JWT signed with its private key, verified by the loopback server) -------

APP_ID = 4242
FULL = {
    "contents": "write",
    "pull_requests": "write",
    "checks": "read",
    "statuses": "read",
    "metadata": "read",
}


@pytest.fixture(scope="module")
def app_key() -> tuple[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


def installation_route(public_key: Any, permissions: dict[str, str], seen: list[dict[str, str]]) -> Answer:
    import jwt

    token = seen[-1].get("Authorization", "").removeprefix("Bearer ")
    try:
        claims = jwt.decode(token, public_key, algorithms=["RS256"])
    except jwt.PyJWTError:
        return 401, {}, {"message": "A JSON web token could not be decoded"}
    if str(claims.get("iss")) != str(APP_ID):
        return 401, {}, {"message": "Integration not found"}
    return (
        200,
        {},
        {"id": 77, "app_id": APP_ID, "permissions": permissions, "repository_selection": "selected"},
    )


@pytest.mark.parametrize(
    ("permissions", "status", "named"),
    [
        (FULL, Status.OK, ""),
        ({**FULL, "contents": "read"}, Status.FAIL, "contents: write"),
        ({k: v for k, v in FULL.items() if k != "checks"}, Status.FAIL, "checks: read"),
        ({**FULL, "statuses": "write", "administration": "write"}, Status.OK, ""),
    ],
)
def test_github_app_permissions(
    app_key: tuple[str, Any], permissions: dict[str, str], status: Status, named: str
) -> None:
    pem, public_key = app_key
    seen: list[dict[str, str]] = []
    path = "/repos/acme/gitops/installation"
    with serving({path: lambda: installation_route(public_key, permissions, seen)}, seen) as url:
        settings = Settings(
            github_app_id=APP_ID, github_app_private_key=pem, github_repo="acme/gitops", github_api_url=url
        )
        result = check_github(settings, 2)
    assert result.status is status, result
    assert named in result.detail and named in result.fix


def test_github_app_with_a_wrong_key_is_refused(app_key: tuple[str, Any]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    _, public_key = app_key
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    seen: list[dict[str, str]] = []
    path = "/repos/acme/gitops/installation"
    with serving({path: lambda: installation_route(public_key, FULL, seen)}, seen) as url:
        settings = Settings(
            github_app_id=APP_ID,
            github_app_private_key=other.decode(),
            github_repo="acme/gitops",
            github_api_url=url,
        )
        result = check_github(settings, 2)
    assert result.status is Status.FAIL and "401" in result.detail and "private key" in result.fix
    assert "PRIVATE KEY" not in result.detail + result.fix


# -- Prometheus, Loki, LLM ----------------------------------------------------------------------


@pytest.mark.prometheus
def test_prometheus_ready_and_answering(prometheus_binaries: None) -> None:
    with running_prometheus() as url:
        result = check_prometheus(Settings(prometheus_url=url), 5)
    assert result.status is Status.OK, result
    assert "queries answer" in result.detail


def test_prometheus_unreachable() -> None:
    result = check_prometheus(Settings(prometheus_url=unreachable()), 2)
    assert result.status is Status.FAIL
    assert "Connection refused" in result.detail and "TUGBOAT_PROMETHEUS_URL" in result.fix


def test_loki_ready_and_not_ready() -> None:
    with serving({"/ready": lambda: (200, {}, "ready")}) as url:
        assert check_loki(Settings(loki_url=url), 2).status is Status.OK
    with serving({"/ready": lambda: (503, {}, "Ingester not ready: waiting for 15s")}) as url:
        result = check_loki(Settings(loki_url=url), 2)
    assert result.status is Status.FAIL and "503 Ingester not ready" in result.detail
    assert check_loki(Settings(), 2).status is Status.SKIPPED


def models(*ids: str) -> Answer:
    return (
        200,
        {},
        {
            "object": "list",
            "data": [{"id": i, "object": "model", "created": 0, "owned_by": "x"} for i in ids],
        },
    )


def test_llm_model_listed_missing_and_refused() -> None:
    key = "sk-test-" + "k" * 24
    with serving({"/v1/models": lambda: models("gpt-4.1-mini", "gpt-4.1")}) as url:
        good = check_llm(Settings(openai_api_key=key, openai_base_url=url + "/v1"), 2)
        other = check_llm(Settings(openai_api_key=key, openai_base_url=url + "/v1", llm_model="llama3"), 2)
    assert good.status is Status.OK, good
    assert other.status is Status.FAIL and "TUGBOAT_LLM_MODEL" in other.fix and "gpt-4.1" in other.fix
    refused = {
        "error": {"message": "Incorrect API key", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    with serving({"/v1/models": lambda: (401, {}, refused)}) as url:
        result = check_llm(Settings(openai_api_key=key, openai_base_url=url + "/v1"), 2)
    assert result.status is Status.FAIL and "OPENAI_API_KEY" in result.fix
    assert check_llm(Settings(), 2).status is Status.SKIPPED


# -- Database and git ---------------------------------------------------------------------------


def test_database_states(tmp_path: Path) -> None:
    from bot.adapters.store import SqlStore

    migrated = tmp_path / "migrated.db"
    SqlStore.open(f"sqlite:///{migrated}").close()
    result = check_database(Settings(database_url=f"sqlite:///{migrated}"), 2)
    assert result.status is Status.OK and "revision" in result.detail

    missing = check_database(Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}"), 2)
    assert missing.status is Status.WARN and not (tmp_path / "none.db").exists()  # doctor creates nothing

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert check_database(Settings(database_url=f"sqlite:///{empty}"), 2).status is Status.WARN

    with sqlite3.connect(migrated) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    newer = check_database(Settings(database_url=f"sqlite:///{migrated}"), 2)
    assert newer.status is Status.FAIL and "upgrade this Tugboat" in newer.fix


def test_git_remote(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "gitops")
    result = check_git(Settings(repo=str(remote.bare)), 5)
    assert result.status is Status.OK and remote.head()[:12] in result.detail
    no_branch = check_git(Settings(repo=str(remote.bare), repo_default_branch="production"), 5)
    assert no_branch.status is Status.FAIL and "TUGBOAT_REPO_DEFAULT_BRANCH" in no_branch.fix
    gone = check_git(Settings(repo=str(tmp_path / "nowhere.git")), 5)
    assert gone.status is Status.FAIL and "TUGBOAT_REPO" in gone.fix


# -- running them together ----------------------------------------------------------------------


def test_checks_run_in_parallel_and_a_hung_check_times_out() -> None:
    barrier = threading.Barrier(3, timeout=10)
    released = threading.Event()

    def meeting(name: str) -> Callable[[Settings, float], CheckResult]:
        def check(_: Settings, __: float) -> CheckResult:
            barrier.wait()  # only passes when all three run at the same time
            return CheckResult(name, Status.OK, "met")

        return check

    def hung(_: Settings, __: float) -> CheckResult:
        released.wait(30)
        return CheckResult("hung", Status.OK, "late")

    try:
        results = run_checks(Settings(), 0.5, [meeting("a"), meeting("b"), meeting("c"), hung])
    finally:
        released.set()
    assert [r.status for r in results] == [Status.OK, Status.OK, Status.OK, Status.FAIL]
    assert "no answer within 0.5s" in results[-1].detail
    assert not healthy(results)


def test_cli_exit_codes_and_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("TUGBOAT_DATABASE_URL", f"sqlite:///{tmp_path / 'tugboat.db'}")
    result = runner.invoke(app, ["doctor", "--json", "--timeout", "2"])
    assert result.exit_code == 0, result.output  # nothing configured is not a failure
    document = json.loads(result.output)
    assert document["healthy"] is True
    assert {c["name"]: c["status"] for c in document["checks"]}["Slack"] == "not configured"

    monkeypatch.setenv("TUGBOAT_PROMETHEUS_URL", unreachable())
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-" + "2" * 12)
    with serving({"/api/auth.test": lambda: (200, {}, {"ok": False, "error": "invalid_auth"})}) as url:
        monkeypatch.setenv("TUGBOAT_SLACK_API_URL", url + "/api/")
        result = runner.invoke(app, ["doctor", "--timeout", "2"])
    assert result.exit_code == 1
    assert "failing: Slack, Prometheus" in result.output
    assert "invalid_auth" in result.output and "2" * 12 not in result.output
