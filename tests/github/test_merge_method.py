"""The merge methods the docs offer are exactly the ones settings accept.

GitHub's merge API also knows ``rebase``, but Tugboat does not offer it: the plain-git change
host merges with ``--no-ff`` and recognises an earlier merge by ancestry, which a rebase (new
commit ids) would defeat, so one setting could not mean the same on both hosts."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from bot.domain.errors import InvalidInput
from bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent.parent


def accepted() -> set[str]:
    return set(typing.get_args(Settings.model_fields["github_merge_method"].annotation))


def test_settings_accept_squash_and_merge_only(tmp_cwd: Path) -> None:
    assert accepted() == {"squash", "merge"}
    for method in sorted(accepted()):
        assert load_settings(github_merge_method=method).github_merge_method == method


def test_rebase_is_refused_with_the_setting_named(tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUGBOAT_GITHUB_MERGE_METHOD", "rebase")
    with pytest.raises(InvalidInput, match="github_merge_method"):
        load_settings()


def test_docs_offer_exactly_the_accepted_methods() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `TUGBOAT_GITHUB_MERGE_METHOD`"))
    assert set(re.findall(r"\b(squash|merge|rebase)\b", row.split("|")[-2])) == accepted()
    guide = (ROOT / "docs" / "github.md").read_text(encoding="utf-8")
    line = next(line for line in guide.splitlines() if line.startswith("github_merge_method:"))
    assert set(re.findall(r"\b(squash|merge|rebase)\b", line.split(":", 1)[1])) == accepted()
