"""Repairing lists indented less than their key: only those lines move, the meaning is kept."""

from __future__ import annotations

import pytest

from bot.adapters.manifests.repair import repair_dedented_lists
from bot.adapters.manifests.tree import load_data

BROKEN = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2  # owned by on-call
  template:
    spec:
      containers:
{items}
other: kept
"""
ITEMS = """\
- name: web
  image: web:1.2  # pinned
  ports:
  - containerPort: 8080"""


@pytest.mark.parametrize("column", [0, 2, 4])
def test_moves_the_list_under_its_key_and_nothing_else(column: int) -> None:
    items = "\n".join(" " * column + line for line in ITEMS.splitlines())
    text = BROKEN.format(items=items)
    with pytest.raises(Exception):  # noqa: B017 - really not YAML
        load_data(text)
    repair = repair_dedented_lists(text)
    assert repair is not None and repair.keys == ("containers",) and repair.lines_moved == 4
    [data] = load_data(repair.text)
    assert data["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "web:1.2", "ports": [{"containerPort": 8080}]}
    ]
    assert data["other"] == "kept" and data["spec"]["replicas"] == 2
    before, after = text.splitlines(), repair.text.splitlines()
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert len(changed) == 4 and all(a.strip() == b.strip() for b, a in changed)
    assert "# pinned" in repair.text and "# owned by on-call" in repair.text


def test_follows_the_files_own_list_style() -> None:
    indentless = "a:\n  ports:\n  - 1\n  env:\n  - x\n  containers:\n- name: c\n"
    repair = repair_dedented_lists(indentless)
    assert repair is not None and "  containers:\n  - name: c\n" in repair.text
    indented = "a:\n  ports:\n    - 1\n  containers:\n- name: c\n"
    repair = repair_dedented_lists(indented)
    assert repair is not None and "  containers:\n    - name: c\n" in repair.text


def test_valid_files_are_left_alone() -> None:
    assert repair_dedented_lists("a:\n  b:\n  - 1\n  c:\n    - 2\n") is None
    assert repair_dedented_lists("key: value\n") is None


def test_crlf_and_missing_final_newline_survive() -> None:
    text = "spec:\r\n  containers:\r\n- name: c\r\n  image: i"
    repair = repair_dedented_lists(text)
    assert repair is not None
    assert repair.text == "spec:\r\n  containers:\r\n    - name: c\r\n      image: i"
