"""Doctor checks for the hosted services Tugboat holds tokens for: Slack and GitHub."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.doctor.base import CheckResult, Status, egress_fix, fail, ok, reason, secret, skipped

if TYPE_CHECKING:
    from bot.settings import Settings

# Bot token scopes slack-app-manifest.yaml asks for and Tugboat needs in every workspace
# (groups:history, for private incident channels, is optional).
SLACK_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "files:write",
    "usergroups:read",
    "users:read",
)
# GitHub App permissions the change host needs, and nothing more.
GITHUB_APP_PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "checks": "read",
    "statuses": "read",
    "metadata": "read",
}


# -- Slack --------------------------------------------------------------------------------------


def check_slack(settings: Settings, timeout_s: float) -> CheckResult:
    name = "Slack"
    token = secret(settings.slack_bot_token)
    if not token:
        return skipped(name, "set SLACK_BOT_TOKEN (xoxb-...) to run the Slack bot")
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=token, base_url=settings.slack_api_url, timeout=max(1, int(timeout_s)))
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        fixes = {
            "invalid_auth": "SLACK_BOT_TOKEN is wrong: copy the Bot User OAuth Token (xoxb-...) "
            "from the app's OAuth & Permissions page",
            "not_authed": "SLACK_BOT_TOKEN is empty or malformed: it starts with xoxb-",
            "token_revoked": "the token was revoked: reinstall the app to the workspace and update "
            "SLACK_BOT_TOKEN",
            "account_inactive": "the app was uninstalled or its user deactivated: reinstall the app",
        }
        return fail(name, f"auth.test answered {error}", fixes.get(error, "check SLACK_BOT_TOKEN"))
    except Exception as exc:
        return fail(name, f"cannot reach {settings.slack_api_url}: {reason(exc)}", egress_fix("Slack"))
    who = f"{response.get('user', '?')} in {response.get('team', '?')}"
    granted = response.headers.get("x-oauth-scopes") or response.headers.get("X-OAuth-Scopes")
    if granted is not None:
        missing = sorted(set(SLACK_SCOPES) - {s.strip() for s in str(granted).split(",")})
        if missing:
            return fail(
                name,
                f"authenticated as {who}, but scopes are missing: {', '.join(missing)}",
                f"add the bot scopes {', '.join(missing)} under OAuth & Permissions and reinstall the app",
            )
    problems = _slack_transport_problem(settings)
    if problems:
        return CheckResult(name, Status.WARN, f"authenticated as {who}", problems)
    return ok(name, f"authenticated as {who}")


def _slack_transport_problem(settings: Settings) -> str:
    socket = bool(secret(settings.slack_app_token))
    if settings.transport == "socket" and not socket:
        return "transport is socket but SLACK_APP_TOKEN (xapp-...) is not set"
    if not socket and not secret(settings.slack_signing_secret):
        return "set SLACK_SIGNING_SECRET for HTTP mode, or SLACK_APP_TOKEN (xapp-...) for Socket Mode"
    return ""


# -- GitHub -------------------------------------------------------------------------------------


def check_github(settings: Settings, timeout_s: float) -> CheckResult:
    name = "GitHub"
    token = secret(settings.github_token)
    key = secret(settings.github_app_private_key)
    app = settings.github_app_id is not None or bool(key)
    if not settings.github_repo and not token and not app:
        return skipped(name, "optional: set TUGBOAT_GITHUB_REPO and GITHUB_TOKEN or a GitHub App for PRs")
    if not settings.github_repo:
        return fail(name, "credentials are set but no repository", "set TUGBOAT_GITHUB_REPO to owner/name")
    if "/" not in settings.github_repo:
        return fail(name, f"{settings.github_repo!r} is not owner/name", "set TUGBOAT_GITHUB_REPO=owner/name")
    if app:
        return _check_github_app(settings, timeout_s, key)
    if not token:
        return fail(
            name,
            f"no credentials for {settings.github_repo}",
            "set GITHUB_TOKEN, or TUGBOAT_GITHUB_APP_ID and TUGBOAT_GITHUB_APP_PRIVATE_KEY",
        )
    from github import Auth, Github, GithubException

    client = Github(
        auth=Auth.Token(token), base_url=settings.github_api_url, timeout=int(timeout_s) or 1, retry=None
    )
    try:
        repo = client.get_repo(settings.github_repo)
        permissions = repo.permissions
    except GithubException as exc:
        fix = {
            401: "GITHUB_TOKEN is invalid or expired: create a new one",
            403: "the token may not read this repository: grant it access (fine-grained: Contents)",
            404: f"{settings.github_repo} is not visible to this token: check the name and the token's "
            "repository access",
        }.get(exc.status, "check GITHUB_TOKEN and TUGBOAT_GITHUB_API_URL")
        return fail(name, f"GET /repos/{settings.github_repo} answered {exc.status}", fix)
    except Exception as exc:
        return fail(name, f"cannot reach {settings.github_api_url}: {reason(exc)}", egress_fix("GitHub"))
    finally:
        client.close()
    if not permissions.push:
        return fail(
            name,
            f"the token can read {settings.github_repo} but not push to it",
            "grant the token Contents: read and write and Pull requests: read and write",
        )
    return ok(name, f"{settings.github_repo}: read and write")


def _check_github_app(settings: Settings, timeout_s: float, key: str) -> CheckResult:
    name = "GitHub"
    if settings.github_app_id is None or not key:
        return fail(
            name,
            "GitHub App is half configured",
            "set both TUGBOAT_GITHUB_APP_ID and TUGBOAT_GITHUB_APP_PRIVATE_KEY (the PEM text)",
        )
    from github import Auth, GithubException, GithubIntegration

    owner, repo_name = str(settings.github_repo).split("/", 1)
    integration = GithubIntegration(
        auth=Auth.AppAuth(settings.github_app_id, key),
        base_url=settings.github_api_url,
        timeout=int(timeout_s) or 1,
    )
    try:
        installation = integration.get_repo_installation(owner, repo_name)
        granted: dict[str, str] = dict(installation.raw_data.get("permissions") or {})
    except GithubException as exc:
        fix = {
            401: "the App ID or private key is wrong: download a new key from the App's settings",
            404: f"the App is not installed on {settings.github_repo}: install it on that repository",
        }.get(exc.status, "check the GitHub App settings")
        return fail(name, f"installation lookup answered {exc.status}", fix)
    except Exception as exc:
        return fail(name, f"cannot use the GitHub App: {reason(exc)}", egress_fix("GitHub"))
    finally:
        integration.close()
    short = [
        f"{perm}: {level}"
        for perm, level in GITHUB_APP_PERMISSIONS.items()
        if granted.get(perm) not in ({level, "write", "admin"} if level == "read" else {"write", "admin"})
    ]
    if short:
        return fail(
            name,
            f"the App lacks permissions on {settings.github_repo}: {', '.join(short)}",
            f"grant the App {', '.join(short)} and accept the new permissions on the installation",
        )
    return ok(name, f"App installation {installation.id} on {settings.github_repo}: permissions suffice")
