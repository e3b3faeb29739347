"""vcrpy harness for GitHub's REST wire format.

Playback by default (record mode "none": a request the cassette does not hold fails the test).
With ``TUGBOAT_GITHUB_RECORD=1``, ``GITHUB_TOKEN`` and ``TUGBOAT_GITHUB_REPO`` set, the
re-recordable cassettes are recorded again against the real API (record mode "all"); the real
owner/name is rewritten to the fixture repository so playback stays stable. Error cassettes
(405, 409, 422, 502, rate limits) cannot be provoked on demand and are always played back.
Authorization never reaches a cassette.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import requests
import vcr
from vcr.cassette import Cassette

from bot.adapters.github.host import GitHubChangeHost
from bot.domain.proposal import Proposal
from bot.settings import ApprovalPolicy, Settings
from tests.github import wire
from tests.github.exchanges import CASSETTES, PROPOSAL_ID, proposal

FILTERED_HEADERS = ["authorization", "cookie", "set-cookie", "x-github-sso"]
RECORD_REPO = os.environ.get("TUGBOAT_GITHUB_REPO", "")
RECORDING = bool(
    os.environ.get("TUGBOAT_GITHUB_RECORD") == "1" and os.environ.get("GITHUB_TOKEN") and RECORD_REPO
)
# A fresh proposal id per recording session, so a scratch repository can be recorded against
# again (its earlier PR for the fixed id is closed); cassettes store the fixed id.
RECORD_ID = f"rec{int(time.time()):x}" if RECORDING else PROPOSAL_ID


@dataclass
class Sent:
    """What the client put on the wire, one entry per logical request (retries are below)."""

    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, method: str, path_suffix: str) -> int:
        return sum(
            1 for m, url, _ in self.requests if m == method and url.split("?")[0].endswith(path_suffix)
        )

    def bodies(self, method: str, path_suffix: str) -> list[str]:
        return [b for m, url, b in self.requests if m == method and url.split("?")[0].endswith(path_suffix)]


def _scrub(text: str) -> str:
    if not RECORDING:
        return text
    owner = RECORD_REPO.split("/", 1)[0]
    text = text.replace(RECORD_REPO, wire.FULL).replace(RECORD_ID, PROPOSAL_ID)
    # the pulls "head" filter and labels name the owner alone: owner:tugboat/<id>
    for sep in ("%3A", ":"):
        text = text.replace(f"{owner}{sep}tugboat", f"{wire.OWNER}{sep}tugboat")
    return text


def record_target() -> dict[str, Any]:
    """Settings overrides for a re-recordable test: the real repository when recording."""
    return {"github_repo": RECORD_REPO} if RECORDING else {}


def recordable_proposal() -> Proposal:
    """The fixture proposal; under its recording id when re-recording against GitHub."""
    return proposal(RECORD_ID)


def _scrub_request(request: Any) -> Any:
    request.uri = _scrub(request.uri)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        response["body"]["string"] = _scrub(body.decode()).encode()
    elif isinstance(body, str):
        response["body"]["string"] = _scrub(body)
    return response


@contextmanager
def github_cassette(name: str, *, rerecordable: bool = False) -> Iterator[tuple[Cassette, Sent]]:
    sent = Sent()
    real_send = requests.adapters.HTTPAdapter.send

    def send(adapter: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        sent.requests.append((str(request.method), str(request.url), body))
        return real_send(adapter, request, **kwargs)

    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING and rerecordable else "none",
        match_on=["method", "path", "query"],  # not host: GHES base URLs replay too
        filter_headers=FILTERED_HEADERS,
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    with (
        recorder.use_cassette(f"{name}.yaml") as cassette,
        patch.object(requests.adapters.HTTPAdapter, "send", send),
    ):
        yield cassette, sent


@pytest.fixture
def gh_settings(tmp_cwd: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "github_token": os.environ.get("GITHUB_TOKEN") if RECORDING else "github_pat_test_0000",
            "github_repo": wire.FULL,  # replayed cassettes name the fixture repository
            "github_seconds_between_writes": 0,
            "github_max_wait_s": 30,
            "policy": ApprovalPolicy(approvers=["U_ALICE", "U_BOB"]),
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def gh_host(gh_settings: Callable[..., Settings]) -> Callable[..., GitHubChangeHost]:
    def make(**overrides: Any) -> GitHubChangeHost:
        return GitHubChangeHost.from_settings(gh_settings(**overrides), poll_wait_s=0)

    return make
