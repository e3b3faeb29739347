"""Byte-exact edits on crafted files, one style at a time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.adapters.manifests.editor import edit_path, set_path, unified_diff
from bot.adapters.manifests.tree import load_data
from bot.domain.errors import InvalidInput


def changed(old: str, new: str) -> list[tuple[str, str]]:
    """(old line, new line) pairs that differ; both texts must have the same line count."""
    a, b = old.split("\n"), new.split("\n")
    assert len(a) == len(b), "line count changed"
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout   # the shop's checkout
spec:
  replicas: 1  # owned by on-call
  template:
    spec:
      containers:
        - name: checkout
          image: "registry.example.com/shop/checkout:1.4.2"
          resources:
            limits:
              cpu: 2
              memory: '512Mi'
            requests: {cpu: 100m, memory: 128Mi}
"""


def test_replaces_only_the_value_and_keeps_the_comment() -> None:
    new = set_path(DEPLOY, "spec.replicas", 3)
    assert changed(DEPLOY, new) == [
        ("  replicas: 1  # owned by on-call", "  replicas: 3  # owned by on-call")
    ]


def test_keeps_quote_styles() -> None:
    new = set_path(
        DEPLOY, "spec.template.spec.containers[0].image", "registry.example.com/shop/checkout:1.4.3"
    )
    assert changed(DEPLOY, new) == [
        (
            '          image: "registry.example.com/shop/checkout:1.4.2"',
            '          image: "registry.example.com/shop/checkout:1.4.3"',
        )
    ]
    new = set_path(DEPLOY, "spec.template.spec.containers[name=checkout].resources.limits.memory", "1Gi")
    assert changed(DEPLOY, new) == [("              memory: '512Mi'", "              memory: '1Gi'")]


def test_quoted_number_stays_quoted_and_plain_number_stays_plain() -> None:
    text = 'spec:\n  replicas: "1"\n  cpu: 2\n'
    assert set_path(text, "spec.replicas", 4) == 'spec:\n  replicas: "4"\n  cpu: 2\n'
    assert set_path(text, "spec.cpu", "3") == 'spec:\n  replicas: "1"\n  cpu: 3\n'
    assert load_data(set_path(text, "spec.cpu", "3"))[0]["spec"]["cpu"] == 3


def test_a_string_that_reads_as_a_number_is_quoted() -> None:
    text = "image:\n  tag: latest\n"
    assert set_path(text, "image.tag", "1.20") == 'image:\n  tag: "1.20"\n'
    assert set_path(text, "image.tag", "yes") == 'image:\n  tag: "yes"\n'  # YAML 1.1 reads yes as true


def test_flow_mapping_value() -> None:
    new = set_path(DEPLOY, "spec.template.spec.containers[0].resources.requests.cpu", "250m")
    assert changed(DEPLOY, new) == [
        (
            "            requests: {cpu: 100m, memory: 128Mi}",
            "            requests: {cpu: 250m, memory: 128Mi}",
        )
    ]


def test_crlf_trailing_spaces_and_no_final_newline() -> None:
    text = "kind: Deployment\r\nspec:   \r\n  replicas: 2 \r\n  paused: false\t\r\nlast: x"
    new = set_path(text, "spec.replicas", 5)
    assert new == "kind: Deployment\r\nspec:   \r\n  replicas: 5 \r\n  paused: false\t\r\nlast: x"
    assert set_path(text, "last", "y").endswith("last: y")


def test_tilde_and_empty_values() -> None:
    text = "a: ~\nb:\nc: null  # none yet\n"
    assert set_path(text, "a", 1) == "a: 1\nb:\nc: null  # none yet\n"
    assert set_path(text, "b", 2) == "a: ~\nb: 2\nc: null  # none yet\n"
    assert set_path(text, "c", 3) == "a: ~\nb:\nc: 3  # none yet\n"


def test_sequences_indented_or_not_in_one_file() -> None:
    text = "a:\n- name: x\n  v: 1\nb:\n  - name: y\n    v: 2\n"
    assert changed(text, set_path(text, "a[name=x].v", 5)) == [("  v: 1", "  v: 5")]
    assert changed(text, set_path(text, "b[name=y].v", 6)) == [("    v: 2", "    v: 6")]


def test_kustomization_selectors() -> None:
    text = (
        "replicas:\n  - name: checkout\n    count: 2\n  - name: web\n    count: 3\n"
        'images:\n  - name: registry.example.com/shop/auth\n    newTag: "2.3.0"\n'
    )
    assert changed(text, set_path(text, "replicas[name=checkout].count", 6)) == [
        ("    count: 2", "    count: 6")
    ]
    new = set_path(text, "images[name=registry.example.com/shop/auth].newTag", "2.2.9")
    assert changed(text, new) == [('    newTag: "2.3.0"', '    newTag: "2.2.9"')]


def test_multi_document_file_addressed_by_kind_and_name() -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 2\n"
    )
    new = set_path(text, "spec.replicas", 7, document="Deployment/api")
    assert changed(text, new) == [("  replicas: 2", "  replicas: 7")]
    assert text.split("---")[:2] == new.split("---")[:2]
    with pytest.raises(InvalidInput, match="choose one with KIND/NAME"):
        set_path(text, "spec.replicas", 7)
    with pytest.raises(InvalidInput, match="0 documents match"):
        set_path(text, "spec.replicas", 7, document="Deployment/nope")


def test_duplicate_keys_are_refused_naming_key_and_line() -> None:
    text = "spec:\n  replicas: 1\n  selector: {}\n  replicas: 2\n"
    with pytest.raises(InvalidInput, match=r"duplicate key 'replicas' at line 4 \(first at line 2\)"):
        set_path(text, "spec.selector", "x")


def test_missing_keys_are_inserted_in_the_files_indentation() -> None:
    four = (
        "spec:\n    containers:\n        -   name: a\n            resources:\n"
        "                limits:\n                    cpu: 1\n    other: 1\n"
    )
    new = set_path(four, "spec.containers[0].resources.limits.memory", "1Gi")
    assert new == four.replace("cpu: 1\n", "cpu: 1\n                    memory: 1Gi\n")
    new = set_path(four, "spec.containers[0].resources.requests.cpu", "100m")
    assert new == four.replace(
        "cpu: 1\n", "cpu: 1\n                requests:\n                    cpu: 100m\n"
    )
    two = "resources:\n  limits:\n  requests:\n    cpu: 1m\nnext: {}\n"  # an empty limits: as in Helm values
    assert set_path(two, "resources.limits.cpu", "500m") == two.replace(
        "limits:\n", "limits:\n    cpu: 500m\n"
    )


def test_insert_into_flow_mapping_and_crlf_without_final_newline() -> None:
    text = "c:\r\n  resources: {}\r\n  env: {a: 1}"
    assert (
        set_path(text, "c.resources.limits.cpu", "1")
        == 'c:\r\n  resources: {limits: {cpu: "1"}}\r\n  env: {a: 1}'
    )
    assert set_path(text, "c.env.b", 2) == "c:\r\n  resources: {}\r\n  env: {a: 1, b: 2}"
    assert set_path(text, "c.x", 2) == "c:\r\n  resources: {}\r\n  env: {a: 1}\r\n  x: 2"


def test_refuses_what_it_cannot_do_exactly() -> None:
    text = "a: |\n  block\nb: &anchor 1\nc: *anchor\nd: [1, 2]\n"
    with pytest.raises(InvalidInput, match="block scalar"):
        set_path(text, "a", "x")
    with pytest.raises(InvalidInput, match="more than that value"):
        set_path(text, "b", 2)  # the alias c would change too
    with pytest.raises(InvalidInput, match="holds a sequence"):
        set_path(text, "d", 3)
    with pytest.raises(InvalidInput, match="out of range"):
        set_path(text, "d[5]", 3)
    with pytest.raises(InvalidInput, match="not there"):
        set_path(text, "d[0].x", 3)


def test_edit_reports_old_and_new_values() -> None:
    edit = edit_path(DEPLOY, "spec.template.spec.containers[0].resources.limits.cpu", "2500m")
    assert (edit.old, edit.new, edit.by_line, edit.added) == (2, "2500m", False, False)


def test_unified_diff_applies_with_git(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    cases = {
        "crlf.yaml": ("a: 1\r\nb: 2\r\n", "b", 3),
        "nonl.yaml": ("a: 1\nb: 2", "b", 3),
        "insert.yaml": ("x:\n  y: 1", "x.z", 2),
    }
    for name, (text, path, value) in cases.items():
        (tmp_path / name).write_bytes(text.encode())
        new = set_path(text, path, value)
        diff = unified_diff(name, text, new)
        if name == "nonl.yaml":
            assert "\\ No newline at end of file" in diff
        subprocess.run(["git", "-C", str(tmp_path), "apply", "-"], input=diff.encode(), check=True)
        assert (tmp_path / name).read_bytes() == new.encode()
    assert unified_diff("same.yaml", "a: 1\n", "a: 1\n") == ""


def test_insert_after_an_empty_last_value() -> None:
    text = "resources:\n  requests:\n    cpu: 1\n  limits:\nother: 1\n"
    new = set_path(text, "resources.claims", "x")
    assert new == "resources:\n  requests:\n    cpu: 1\n  limits:\n  claims: x\nother: 1\n"


def test_inserted_keys_follow_sibling_indentation_and_line_endings() -> None:
    text = "a:\n    b: 1\nres:\n  requests:\n      cpu: 1\r\n"
    new = set_path(text, "res.limits.cpu", "2")
    assert new == text + '  limits:\r\n      cpu: "2"\r\n'


def test_unicode_and_byte_order_mark() -> None:
    text = '\ufeff# héllo ✓ 😀\nname: "日本"  # コメント\nb:\n  c: 1\n'
    assert set_path(text, "b.c", 2) == text.replace("c: 1", "c: 2")
    assert set_path(text, "name", "東京") == text.replace("日本", "東京")
    assert set_path(text, "b.d", "x") == text + "  d: x\n"
