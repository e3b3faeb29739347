"""The tolerant line reader used for files a YAML parser refuses."""

from __future__ import annotations

import pytest
import yaml

from bot.adapters.manifests.editor import edit_path, parse
from bot.adapters.manifests.lines import NotReadable, parse_lines
from bot.adapters.manifests.tree import to_data
from bot.domain.errors import InvalidInput

BROKEN = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger
spec:
  replicas: 1  # owned by on-call; see runbook
  template:
    spec:
      containers:
- name: ledger
  image: registry.example.com/api/ledger
  args:
  - |
    multi-line
    script
  env:
  - name: LOG_LEVEL
    value: "info"
  resources:
    limits:
      cpu: 2
      memory: 512Mi
---
kind: HorizontalPodAutoscaler
metadata: {name: ledger}
spec:
  maxReplicas: 4
"""


def test_reads_dedented_list_items_as_the_keys_list() -> None:
    docs = [to_data(d) for d in parse_lines(BROKEN)]
    container = docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "ledger"
    assert container["env"] == [{"name": "LOG_LEVEL", "value": "info"}]
    assert container["resources"]["limits"] == {"cpu": 2, "memory": "512Mi"}
    assert docs[1]["spec"]["maxReplicas"] == 4
    assert docs[0]["spec"]["replicas"] == 1


def test_edits_by_line_in_an_invalid_file() -> None:
    assert parse(BROKEN).by_line
    edit = edit_path(BROKEN, "spec.template.spec.containers[name=ledger].resources.limits.memory", "1Gi", 0)
    assert edit.by_line and edit.old == "512Mi"
    assert edit.text == BROKEN.replace("memory: 512Mi", "memory: 1Gi")
    edit = edit_path(BROKEN, "spec.maxReplicas", 8, document="HorizontalPodAutoscaler/ledger")
    assert edit.text == BROKEN.replace("maxReplicas: 4", "maxReplicas: 8")
    edit = edit_path(BROKEN, "spec.replicas", 3, 0)
    assert edit.text == BROKEN.replace("replicas: 1  #", "replicas: 3  #")


def test_refuses_lines_that_fit_nowhere() -> None:
    with pytest.raises(NotReadable):
        parse_lines("a:\n    b: 1\n  c: 2\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        parse("a:\n    b: 1\n  c: 2\n")


def test_diff_tracker_reads_keys_and_comments_as_the_line_reader_does() -> None:
    """One reader serves the manifests' editor and the diff classifier's line paths: both see
    the same keys and values, comments dropped."""
    from bot.adapters.git.yamlpaths import track

    text = (
        'metadata:\n  "app.kubernetes.io/name": ledger  # the selector\n'
        "  url: http://ledger:8080/x  # not a key\n  note: tag#1\n"
    )
    [tree] = parse_lines(text)
    read = {str(k): str(v) for k, v in to_data(tree)["metadata"].items()}
    tracked = {info.path[-1]: info.value for info in track(text).lines if info.value is not None}
    assert (
        read
        == tracked
        == {
            "app.kubernetes.io/name": "ledger",
            "url": "http://ledger:8080/x",
            "note": "tag#1",
        }
    )


def test_an_empty_key_does_not_take_the_next_item_of_an_enclosing_list() -> None:
    """``- name: b`` at the column of the list that holds ``a`` is that list's next item, as YAML
    reads it, in the tree and in the line paths alike."""
    from bot.adapters.git.yamlpaths import track

    text = "items:\n- name: a\n  env:\n- name: b\n  env:\n    - name: X\n"
    [tree] = parse_lines(text)
    assert to_data(tree) == yaml.safe_load(text)
    paths = [".".join(info.path) for info in track(text).lines]
    assert paths == [
        "items",
        "items.[a].name",
        "items.[a].env",
        "items.[b].name",
        "items.[b].env",
        "items.[b].env.[X].name",
    ]


def test_a_separator_inside_a_block_scalar_is_text() -> None:
    from bot.adapters.git.yamlpaths import track

    text = "kind: ConfigMap\ndata:\n  all.yaml: |\n    a: 1\n    ---\n    b: 2\n---\nkind: Secret\n"
    [config, secret] = parse_lines(text)
    assert to_data(config)["data"] == {"all.yaml": None} and to_data(secret) == {"kind": "Secret"}
    tracked = track(text)
    assert [d.kind for d in tracked.docs] == ["ConfigMap", "Secret"]
    assert [info.doc for info in tracked.lines] == [0, 0, 0, 0, 0, 0, 1, 1]
    assert tracked.lines[5].path == ("data", "all.yaml", "b") and tracked.lines[5].value == "2"
