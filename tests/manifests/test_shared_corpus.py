"""Representative edits over every real-world file in ../shared/manifests, and over the example
incident repositories in ../shared/scenarios/examples. Each edit must change only the value's own
line (or add lines for a new key), keep every other byte, and read back as the original data with
only that value changed. Checks here are independent of the editor's own verification."""

from __future__ import annotations

import copy
import difflib
import json
import subprocess
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError

from bot.adapters.manifests import editor
from bot.adapters.manifests.editor import BY_LINE_NOTE, edit_path, parse
from bot.adapters.manifests.layout import split_image
from bot.adapters.manifests.lines import parse_lines
from bot.adapters.manifests.resources import WORKLOAD_KINDS, containers_of, edit_field
from bot.adapters.manifests.tree import Mapping, Scalar, Sequence, compose, to_data
from bot.adapters.manifests.workspace import ManifestRepo
from bot.domain.errors import InvalidInput
from bot.domain.quantity import parse_cpu, parse_memory
from tests.conftest import SHARED

pytestmark = pytest.mark.shared

CORPUS = SHARED / "manifests"
FILES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.y*ml")) if CORPUS.is_dir() else []
EXAMPLES = sorted(p.name for p in (SHARED / "scenarios" / "examples").glob("*")) if SHARED.is_dir() else []


def load(text: str) -> list[Any]:
    return copy.deepcopy(_load(text))


def load_libyaml(text: str) -> list[Any]:
    """A second, independent reader (libyaml through PyYAML), fast enough for many edits."""
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


@lru_cache(maxsize=8)
def _load(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=True).load_all(text))


def set_in(data: Any, path: list[str | int], value: Any) -> None:
    for step in path[:-1]:
        if isinstance(step, str) and (step not in data or data[step] is None):
            data[step] = {}
        data = data[step]
    data[path[-1]] = value


def get_in(data: Any, path: list[str | int]) -> Any:
    for step in path:
        data = data[step]
    return data


def common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def check_edit(
    old: str,
    new: str,
    document: int,
    path: list[str | int],
    added: bool,
    read: Callable[[str], list[Any]] = load_libyaml,
) -> Any:
    """Only the value's line changes (or lines are added); the data differs only at ``path``.
    Read by libyaml by default: a reader independent of the editor's ruamel, and fast enough
    for the corpus's long multi-document files."""
    a, b = old.split("\n"), new.split("\n")
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    removed = sum(i2 - i1 for _tag, i1, i2, _j1, _j2 in ops)
    if added:
        assert removed <= 1, ops  # at most the parent's line ({} or ~ becomes a mapping)
    else:
        assert len(a) == len(b) and removed == 1, ops
        prefix = common_prefix(old, new)
        suffix = common_prefix(old[prefix:][::-1], new[prefix:][::-1])
        assert "\n" not in old[prefix : len(old) - suffix] and "\n" not in new[prefix : len(new) - suffix]
    before, after = read(old), read(new)
    got = get_in(after[document], path)
    expected = copy.deepcopy(before)
    set_in(expected[document], path, got)
    assert expected == after
    return got


def representative(data: list[Any], category: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(description, edit arguments) for the edits this file invites."""
    for index, doc in enumerate(data):
        if not isinstance(doc, dict):
            continue
        kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
        if kind in WORKLOAD_KINDS and isinstance(name, str):
            resource = f"{kind}/{name}"
            if kind != "DaemonSet":
                count = (doc.get("spec") or {}).get("replicas")
                yield "replicas", {"resource": resource, "field": "replicas", "value": int(count or 1) + 2}
            for container in containers_of(doc)[:3]:
                c = {"resource": resource, "container": container["name"]}
                yield "cpu-limit", {**c, "field": "cpu-limit", "value": 3.25}
                yield "memory-limit", {**c, "field": "memory-limit", "value": 3 * 2**30}
                yield "image", {**c, "field": "image", "value": str(container.get("image", "x")) + "-next"}
        if kind == "HorizontalPodAutoscaler" and isinstance(name, str):
            high = int((doc.get("spec") or {}).get("maxReplicas") or 1)
            yield "hpa", {"resource": f"{kind}/{name}", "field": "hpa-max-replicas", "value": high + 5}
        if category == "kustomization":
            for entry in doc.get("replicas") or []:
                yield "path", {"path": f"replicas[name={entry['name']}].count", "value": 9, "document": index}
            for entry in doc.get("images") or []:
                key = "newTag" if "newTag" in entry or "newName" not in entry else "newName"
                path = f"images[name={entry['name']}].{key}"
                yield "path", {"path": path, "value": "9.9.9", "document": index}
            if isinstance(doc.get("namespace"), str):
                yield "path", {"path": "namespace", "value": "tugboat-test", "document": index}
        if category == "values":
            if isinstance(doc.get("replicaCount"), int):
                yield "path", {"path": "replicaCount", "value": doc["replicaCount"] + 2, "document": index}
            if "resources" in doc and (doc["resources"] is None or isinstance(doc["resources"], dict)):
                for leaf, value in (("cpu", "750m"), ("memory", "384Mi")):
                    yield "path", {"path": f"resources.limits.{leaf}", "value": value, "document": index}
            image = doc.get("image")
            if isinstance(image, dict) and isinstance(image.get("tag"), str | int | float | type(None)):
                yield "path", {"path": "image.tag", "value": "9.9.9", "document": index}


def categories() -> dict[str, str]:
    rows = (CORPUS / "SOURCES.tsv").read_text().splitlines()[1:] if CORPUS.is_dir() else []
    return {row.split("\t")[5]: row.split("\t")[4] for row in rows if row.count("\t") >= 5}


CATEGORIES = categories()


def test_corpus_is_there(shared_dir: Path) -> None:
    assert len(FILES) == 161 and len(CATEGORIES) == 161


@pytest.mark.parametrize("name", FILES)
def test_representative_edits_change_only_the_value(shared_dir: Path, name: str) -> None:
    text = (shared_dir / "manifests" / name).read_bytes().decode("utf-8")
    try:
        data = load(text)
    except DuplicateKeyError as exc:
        key = str(exc).split('found duplicate key "')[1].split('"')[0]
        with pytest.raises(InvalidInput, match=f"duplicate key '{key}' at line"):
            parse(text, name)
        return
    category = CATEGORIES[name]
    edits = list(representative(data, category))
    if category == "workload" and any(isinstance(d, dict) and d.get("kind") in WORKLOAD_KINDS for d in data):
        assert edits
    for what, args in edits:
        if "path" in args:
            edit = edit_path(text, args["path"], args["value"], args["document"], where=name)
            document, path, added = edit.document, edit.data_path, edit.added
            got = check_edit(text, edit.text, document, path, added)
            assert str(got) == str(args["value"]), what
            continue
        done = edit_field(text, where=name, **args)
        got = check_edit(text, done.edit.text, done.edit.document, done.edit.data_path, done.edit.added)
        if what == "cpu-limit":
            assert parse_cpu(got) == pytest.approx(args["value"])
            assert done.edit.data_path[-3:] == ["resources", "limits", "cpu"]
        elif what == "memory-limit":
            assert parse_memory(got) == args["value"]
            assert done.edit.data_path[-3:] == ["resources", "limits", "memory"]
        elif what == "image":
            assert got == args["value"] and done.edit.data_path[-1] == "image"
        else:
            assert int(got) == args["value"]
        if "container" in args:
            container = get_in(load(done.edit.text)[done.edit.document], done.edit.data_path[:5])
            assert container["name"] == args["container"]


# --- the example incident repositories ---------------------------------------------------------------


def clone(bundle: Path, into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "-b", "main", str(bundle), str(into)], check=True)
    return into


NEW_VALUES: dict[str, Any] = {"replicas": 11, "cpu": 3.391, "memory": 1288490188, "image": ":9.9.9"}


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_repositories_resolve_and_edit(shared_dir: Path, tmp_path: Path, example: str) -> None:
    scenario = shared_dir / "scenarios" / "examples" / example
    root = clone(scenario / "repo.bundle", tmp_path / "repo")
    expected = json.loads((scenario / "expected.json").read_text())
    repo = ManifestRepo(root)
    workloads = repo.workloads()
    assert workloads and not repo.skipped
    for workload in workloads:
        for field, value in NEW_VALUES.items():
            eff = repo.effective(workload, field)
            assert eff.value is not None, (workload.name, field)
            if expected["layout"] == "kustomize" and field == "replicas":
                assert eff.file == "overlays/production/kustomization.yaml"
            if field == "image":  # a new tag of the same image
                value = split_image(eff.value)[0] + value
            planned = repo.plan(workload, field, value)
            lines = [
                ln for ln in planned.diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")
            ]
            check = subprocess.run(
                ["git", "-C", str(root), "apply", "--check", "-"], input=planned.diff.encode()
            )
            assert check.returncode == 0
            # the example repositories are valid YAML: one line carries the value and every
            # other byte of the file stays
            assert len(lines) == 2, planned.diff
            assert BY_LINE_NOTE not in planned.notes
            [new_text] = planned.new_texts.values()
            assert load(new_text)
            assert planned.changes[0].to == (value if field != "memory" else 1229 * 2**20)

    remediation = expected["remediation"]
    actions = {"scale": "replicas", "set_cpu_limit": "cpu", "set_memory_limit": "memory"}
    target = actions.get(remediation["action"])
    if target is None:
        return
    planned = repo.plan(remediation["service"], remediation.get("field", target), remediation["min_value"])
    subprocess.run(["git", "-C", str(root), "apply", "-"], input=planned.diff.encode(), check=True)
    after = ManifestRepo(root).effective(remediation["service"], target).value
    assert remediation["min_value"] <= after <= remediation["max_value"]


def same_but_block_scalars(yaml_data: Any, line_data: Any) -> bool:
    """Equal, except that the line reader skips block scalars (``|``, ``>``) and gives None."""
    if isinstance(yaml_data, dict) and isinstance(line_data, dict):
        return list(yaml_data) == list(line_data) and all(
            same_but_block_scalars(yaml_data[k], line_data[k]) for k in yaml_data
        )
    if isinstance(yaml_data, list) and isinstance(line_data, list):
        return len(yaml_data) == len(line_data) and all(
            same_but_block_scalars(a, b) for a, b in zip(yaml_data, line_data, strict=True)
        )
    return yaml_data == line_data or (isinstance(yaml_data, str) and line_data is None)


@pytest.mark.parametrize("name", FILES)
def test_line_reader_agrees_with_yaml(shared_dir: Path, name: str) -> None:
    """The fallback reader, run on valid files, sees the same structure a YAML parser does."""
    text = (shared_dir / "manifests" / name).read_bytes().decode("utf-8")
    try:
        expected = [to_data(root) for root in compose(text, name) if root is not None]
    except InvalidInput:
        return  # duplicate keys: refused either way
    assert same_but_block_scalars(expected, [to_data(root) for root in parse_lines(text)])


def sample_leaves(node: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], Scalar]]:
    if isinstance(node, Scalar):
        yield path, node
    elif isinstance(node, Mapping):
        for key, value in node.entries:
            yield from sample_leaves(value, [*path, str(key.value)])
    elif isinstance(node, Sequence):
        for index, item in enumerate(node.items):
            yield from sample_leaves(item, [*path, index])


@pytest.mark.parametrize("name", FILES)
def test_line_mode_edits_on_real_files(shared_dir: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The by-line fallback, forced on valid files, still changes exactly the value's text."""
    text = (shared_dir / "manifests" / name).read_bytes().decode("utf-8")
    try:
        compose(text, name)
    except InvalidInput:
        return

    def refuse(text: str, where: str = "") -> Any:
        raise YAMLError("forced: read by line")

    monkeypatch.setattr(editor, "compose", refuse)
    parsed = parse(text, name)
    assert parsed.by_line
    for index, root in enumerate(parsed.roots):
        leaves = [(p, s) for p, s in sample_leaves(root, []) if s.style not in ("|", ">")]
        leaves = [(p, s) for p, s in leaves if not isinstance(s.value, dict | list)]
        per_document = max(1, 30 // len(parsed.roots))  # about 30 edits per file
        for path, scalar in leaves[:: max(1, len(leaves) // per_document)]:
            value: Any = (
                4321 if isinstance(scalar.value, int) and not isinstance(scalar.value, bool) else "tb-new"
            )
            edit = edit_path(text, path, value, document=index, where=name)
            assert edit.by_line and BY_LINE_NOTE in edit.notes
            assert str(check_edit(text, edit.text, index, edit.data_path, False)) == str(value)
