"""``tugboat doctor`` against Slack and GitHub in their wire formats, on loopback: the real
slack_sdk WebClient and PyGithub talk to them over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.adapters.doctor.hosted import SLACK_SCOPES, check_github, check_slack
from bot.services.doctor import Status
from bot.settings import Settings
from tests.doctor.loopback import Answer, serving, unreachable

SLACK_OK = {
    "ok": True,
    "url": "https://acme.slack.com/",
    "team": "Acme",
    "user": "tugboat",
    "user_id": "U0BOT",
}


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
