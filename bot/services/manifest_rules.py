"""Pure rules over one YAML file before and after a proposal: the policy scan's core.

A file is a list of documents. Kubernetes objects (``apiVersion`` + ``kind``) are paired by
kind/namespace/name; Kustomizations and Helm values files (not Kubernetes objects) by position
and checked structurally. Every changed leaf must map to an allowed field (``Field_``); the
values written must stay inside the policy's bounds; and some things may never be
*introduced*: privileged containers, added capabilities, ``:latest`` or untagged images.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.errors import InvalidInput
from bot.domain.proposal import Field_
from bot.domain.quantity import parse_cpu, parse_memory
from bot.settings import ApprovalPolicy

Path_ = tuple[str, ...]  # keys, with "*" for list positions
_WORKLOAD_KINDS = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
_KUSTOMIZATION_FILES = {"kustomization.yaml", "kustomization.yml", "Kustomization"}
_KUSTOMIZATION_KEYS = {
    "apiVersion", "kind", "metadata", "resources", "bases", "components", "namespace", "namePrefix",
    "nameSuffix", "commonLabels", "labels", "commonAnnotations", "images", "replicas", "patches",
    "patchesStrategicMerge", "patchesJson6902", "configMapGenerator", "secretGenerator",
    "generatorOptions", "helmCharts", "helmGlobals", "crds", "openapi", "transformers",
    "generators", "validators", "replacements", "buildMetadata", "sortOptions",
}  # fmt: skip
_RESOURCE_FIELDS = {
    ("limits", "cpu"): Field_.CPU_LIMIT,
    ("requests", "cpu"): Field_.CPU_REQUEST,
    ("limits", "memory"): Field_.MEMORY_LIMIT,
    ("requests", "memory"): Field_.MEMORY_REQUEST,
}


@dataclass(frozen=True)
class Doc:
    """One YAML document and how to treat it."""

    data: Any
    kind: str  # "object", "kustomization" or "values"
    key: str

    @property
    def label(self) -> str:
        return self.key


def classify(path: str, documents: list[Any]) -> list[Doc]:
    base = path.rsplit("/", 1)[-1]
    docs = []
    for index, data in enumerate(documents):
        if data is None:
            continue
        is_kust = base in _KUSTOMIZATION_FILES or (
            isinstance(data, dict) and data.get("kind") == "Kustomization"
        )
        if is_kust:
            docs.append(Doc(data, "kustomization", f"{path} (Kustomization)"))
        elif isinstance(data, dict) and "apiVersion" in data and "kind" in data:
            meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
            name = "/".join(str(x) for x in (meta.get("namespace"), data["kind"], meta.get("name")) if x)
            docs.append(Doc(data, "object", f"{path}: {name}"))
        else:
            docs.append(Doc(data, "values", f"{path} (document {index + 1})"))
    return docs


def structural_problems(doc: Doc) -> list[str]:
    """Kustomizations and values files cannot be schema-checked; their shape still can."""
    data = doc.data
    if doc.kind != "kustomization":
        # Helm values are a mapping; a JSON 6902 patch file is a list of operations.
        if isinstance(data, dict) or (isinstance(data, list) and all(isinstance(i, dict) for i in data)):
            return []
        return [f"{doc.label} is neither a mapping nor a list of mappings"]
    if not isinstance(data, dict):
        return [f"{doc.label} is not a mapping"]
    problems = [f"{doc.label}: unknown key {k!r}" for k in data if k not in _KUSTOMIZATION_KEYS]
    for key in ("resources", "bases", "components"):
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            problems.append(f"{doc.label}: {key} must be a list of paths")
    for entry in data.get("replicas", []) or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "count" not in entry:
            problems.append(f"{doc.label}: each replicas entry needs a name and a count")
        elif not isinstance(entry["count"], int) or isinstance(entry["count"], bool):
            problems.append(f"{doc.label}: replicas count for {entry['name']} must be an integer")
    for entry in data.get("images", []) or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(f"{doc.label}: each images entry needs a name")
    return problems


# -- what changed -------------------------------------------------------------------------------
def changed_paths(before: Any, after: Any) -> Iterator[Path_]:
    """Leaf paths whose value differs (added or removed subtrees yield all their leaves)."""
    for path, _ in concrete_paths(before, after):
        yield path


def field_of(doc: Doc, path: Path_) -> Field_ | None:
    """The allowed field a changed leaf belongs to, or None when it is outside the allow-list."""
    kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
    if len(path) >= 3 and (path[-3], *path[-2:]) in {("resources", *k) for k in _RESOURCE_FIELDS}:
        return _RESOURCE_FIELDS[(path[-2], path[-1])]
    if doc.kind == "object":
        if path == ("spec", "replicas") and kind in _WORKLOAD_KINDS:
            return Field_.REPLICAS
        if kind == "HorizontalPodAutoscaler" and path in (("spec", "minReplicas"), ("spec", "maxReplicas")):
            return Field_.HPA_MIN_REPLICAS if path[-1] == "minReplicas" else Field_.HPA_MAX_REPLICAS
        if len(path) >= 3 and path[-3] in ("containers", "initContainers") and path[-1] == "image":
            return Field_.IMAGE
        return None
    if doc.kind == "kustomization":
        if path == ("replicas", "*", "count"):
            return Field_.REPLICAS
        if path[:2] == ("images", "*") and path[-1] in ("newTag", "newName", "digest"):
            return Field_.IMAGE
        return None
    last = path[-1] if path else ""
    if last in ("replicaCount", "replicas"):
        return Field_.REPLICAS
    if last in ("minReplicas", "maxReplicas"):
        return Field_.HPA_MIN_REPLICAS if last == "minReplicas" else Field_.HPA_MAX_REPLICAS
    if last in ("tag", "image", "digest") and ("image" in path[-2:] or last == "image"):
        return Field_.IMAGE
    return None


def get(data: Any, path: Path_, positions: list[int]) -> Any:
    """The value at ``path``, using ``positions`` for the ``*`` steps in order."""
    steps = iter(positions)
    for key in path:
        if key == "*":
            index = next(steps, 0)
            data = data[index] if isinstance(data, list) and index < len(data) else None
        else:
            data = data.get(key) if isinstance(data, dict) else None
    return data


def concrete_paths(
    before: Any, after: Any, at: Path_ = (), pos: tuple[int, ...] = ()
) -> Iterator[tuple[Path_, list[int]]]:
    """Each changed leaf with the list positions of its ``*`` steps, for reading values.

    A mapping or list on one side only is compared against an empty one, so an added
    subtree (a new securityContext, say) yields every leaf in it.
    """
    if isinstance(before, dict) or isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        if (before is not None and not isinstance(before, dict)) or (
            after is not None and not isinstance(after, dict)
        ):
            yield at, list(pos)  # the type itself changed
        for key in list(old) + [k for k in new if k not in old]:
            yield from concrete_paths(old.get(key), new.get(key), (*at, str(key)), pos)
    elif isinstance(before, list) or isinstance(after, list):
        old_list = before if isinstance(before, list) else []
        new_list = after if isinstance(after, list) else []
        if (before is not None and not isinstance(before, list)) or (
            after is not None and not isinstance(after, list)
        ):
            yield at, list(pos)
        for i in range(max(len(old_list), len(new_list))):
            old_item = old_list[i] if i < len(old_list) else None
            new_item = new_list[i] if i < len(new_list) else None
            yield from concrete_paths(old_item, new_item, (*at, "*"), (*pos, i))
    elif before != after:
        yield at, list(pos)


# -- rules ---------------------------------------------------------------------------------------
def value_problems(doc: Doc, before: Any, policy: ApprovalPolicy) -> list[str]:
    """Bounds on the values the change writes, for the leaves that changed."""
    problems = []
    for path, positions in concrete_paths(before, doc.data):
        field = field_of(doc, path)
        new, old = get(doc.data, path, positions), get(before, path, positions)
        where = f"{doc.label} {'.'.join(path)}"
        if field in (Field_.REPLICAS, Field_.HPA_MIN_REPLICAS, Field_.HPA_MAX_REPLICAS) and new is not None:
            problems += replica_problems(where, old, new, policy)
        elif field in (Field_.CPU_LIMIT, Field_.CPU_REQUEST) and new is not None:
            problems += _bounded(where, new, parse_cpu, policy.max_cpu_cores, "cores", "max_cpu_cores")
        elif field in (Field_.MEMORY_LIMIT, Field_.MEMORY_REQUEST) and new is not None:
            problems += _bounded(
                where, new, parse_memory, policy.max_memory_bytes, "bytes", "max_memory_bytes"
            )
    return problems


def replica_problems(where: str, old: Any, new: Any, policy: ApprovalPolicy) -> list[str]:
    if not isinstance(new, int) or isinstance(new, bool):
        return [f"{where} must be an integer, not {new!r}"]
    if new <= 0:
        return [f"{where} would be {new}: scaling to zero is never proposed automatically"]
    if new > policy.max_replicas:
        return [f"{where} would be {new}, above policy.max_replicas ({policy.max_replicas})"]
    if isinstance(old, int) and old > 0 and new > old * policy.max_replica_factor:
        return [
            f"{where} would go from {old} to {new}, more than policy.max_replica_factor "
            f"({policy.max_replica_factor:g}) times the current value"
        ]
    return []


def _bounded(where: str, value: Any, parse: Any, limit: float, unit: str, setting: str) -> list[str]:
    try:
        amount = parse(value)
    except (InvalidInput, ValueError, TypeError, ArithmeticError):
        return [f"{where}: {value!r} is not a valid quantity"]
    if amount <= 0:
        return [f"{where}: {value!r} must be positive"]
    if amount > limit:
        return [f"{where} would be {value} ({amount:g} {unit}), above policy.{setting} ({limit:g})"]
    return []


def resource_blocks(data: Any, at: Path_ = ()) -> Iterator[tuple[Path_, Mapping[str, Any]]]:
    if isinstance(data, dict):
        if at and at[-1] == "resources" and ("limits" in data or "requests" in data):
            yield at, data
        for key, item in data.items():
            yield from resource_blocks(item, (*at, str(key)))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from resource_blocks(item, (*at, str(i)))


def limit_problems(doc: Doc, before: Any) -> list[str]:
    """Every resources block the change touched must keep limits >= requests."""
    old_blocks = dict(resource_blocks(before))
    problems = []
    for at, block in resource_blocks(doc.data):
        if old_blocks.get(at) == block:
            continue
        limits, requests = block.get("limits") or {}, block.get("requests") or {}
        for name, parse in (("cpu", parse_cpu), ("memory", parse_memory)):
            if name in limits and name in requests:
                try:
                    low, high = parse(requests[name]), parse(limits[name])
                except (InvalidInput, ValueError, TypeError, ArithmeticError):
                    continue  # reported by value_problems
                if high < low:
                    problems.append(
                        f"{doc.label} {'.'.join(at)}: {name} limit {limits[name]} is below its request "
                        f"{requests[name]}"
                    )
    return problems


def _hazards(data: Any, at: Path_ = ()) -> Iterator[str]:
    """Markers of privilege and of mutable images anywhere in a document."""
    if isinstance(data, dict):
        for key, item in data.items():
            here = (*at, str(key))
            if key == "privileged" and item is True:
                yield f"privileged container at {'.'.join(at)}"
            elif key == "capabilities" and isinstance(item, dict) and item.get("add"):
                for cap in item["add"] if isinstance(item["add"], list) else [item["add"]]:
                    yield f"added capability {cap} at {'.'.join(at)}"
            elif key == "image" and isinstance(item, str) and at and at[-1] != "images":
                problem = image_problem(item)
                if problem:
                    yield f"{problem} at {'.'.join(here)}"
            elif (
                key in ("tag", "newTag")
                and isinstance(item, str | int | float)
                and "image" in "".join(at).lower()
            ):
                if str(item).strip() in ("", "latest"):
                    yield f"image tag {item!r} at {'.'.join(here)}"
            else:
                yield from _hazards(item, here)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _hazards(item, (*at, str(i)))


def image_problem(ref: str) -> str | None:
    """Why an image reference is mutable, or None: ``:latest`` or no tag (digests are fine)."""
    ref = ref.strip()
    if "@sha256:" in ref or "{{" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {ref!r} has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {ref!r} uses the mutable :latest tag"
    return None


def introduced_hazards(doc: Doc, before: Any) -> list[str]:
    old = set(_hazards(before)) if before is not None else set()
    return [f"{doc.label}: introduces {h}" for h in _hazards(doc.data) if h not in old]


IMAGE_LINE = re.compile(r"^\+\s*(?:-\s*)?image:\s*['\"]?(?P<ref>[^'\"\s#]+)", re.MULTILINE)
