"""Kubernetes-aware edits: a workload's replicas, a container's requests/limits or image, an HPA's bounds.

Values come in the domain's units (replicas int, CPU cores, memory bytes) or as manifest text
("750m", "1Gi"); they are written in the style of the value they replace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.adapters.manifests.editor import Edit, Parsed, edit_path, parse
from bot.adapters.manifests.fields import FIELDS
from bot.adapters.manifests.tree import Segment, format_path
from bot.domain.errors import InvalidInput
from bot.domain.quantity import format_cpu, format_memory, parse_cpu, parse_memory

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Rollout")
HPA_KIND = "HorizontalPodAutoscaler"
# bot.domain.proposal.Field_ values -> the names used here and on the command line
_ALIASES = {
    "cpu": "cpu-limit",
    "memory": "memory-limit",
    "cpu_request": "cpu-request",
    "memory_request": "memory-request",
    "hpa.minReplicas": "hpa-min-replicas",
    "hpa.maxReplicas": "hpa-max-replicas",
}
_RESOURCE_FIELDS = {
    "cpu-request": ("requests", "cpu"),
    "cpu-limit": ("limits", "cpu"),
    "memory-request": ("requests", "memory"),
    "memory-limit": ("limits", "memory"),
}


_CANONICAL = {v: k for k, v in _ALIASES.items()}


def canonical_field(name: str) -> str:
    """The ``bot.domain.proposal.Field_`` value for either spelling (``cpu`` or ``cpu-limit``)."""
    return _CANONICAL.get(normalise_field(name), "replicas" if name == "replicas" else name)


def normalise_field(field: str) -> str:
    name = _ALIASES.get(field, field)
    if name not in FIELDS:
        raise InvalidInput(f"unknown field {field!r}; use one of {', '.join(FIELDS)}")
    return name


def split_resource(resource: str) -> tuple[str, str]:
    kind, sep, name = resource.partition("/")
    if not sep or not kind or not name:
        raise InvalidInput(f"--resource takes KIND/NAME (e.g. Deployment/checkout), got {resource!r}")
    return kind, name


def _is(doc: Any, kind: str, name: str | None = None) -> bool:
    if not isinstance(doc, dict) or str(doc.get("kind", "")).lower() != kind.lower():
        return False
    meta = doc.get("metadata")
    return name is None or (isinstance(meta, dict) and meta.get("name") == name)


def pod_spec_path(doc: dict[str, Any]) -> list[Segment]:
    if str(doc.get("kind")) == "CronJob":
        return ["spec", "jobTemplate", "spec", "template", "spec"]
    return ["spec", "template", "spec"]


def containers_of(doc: Any) -> list[dict[str, Any]]:
    node: Any = doc
    for key in pod_spec_path(doc) if isinstance(doc, dict) else []:
        node = node.get(key) if isinstance(node, dict) else None
    found = node.get("containers") if isinstance(node, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def choose_container(doc: dict[str, Any], workload: str, container: str | None) -> tuple[int, str]:
    """The container to edit: the one asked for, the only one, or the one named like the workload."""
    containers = containers_of(doc)
    names = [str(c.get("name")) for c in containers]
    if not containers:
        raise InvalidInput(f"{doc.get('kind')}/{workload} has no containers")
    if container is not None:
        if container not in names:
            raise InvalidInput(
                f"{doc.get('kind')}/{workload} has no container {container!r} (has: {', '.join(names)})"
            )
        return names.index(container), container
    if len(names) == 1:
        return 0, names[0]
    if workload in names:
        return names.index(workload), workload
    related = [n for n in names if n.startswith(workload) or workload.startswith(n)]
    if len(related) == 1:  # e.g. workload checkout-v2, container checkout
        return names.index(related[0]), related[0]
    raise InvalidInput(
        f"{doc.get('kind')}/{workload} has {len(names)} containers ({', '.join(names)}); "
        "choose one with --container"
    )


def hpa_for(docs: list[tuple[int, Any]], kind: str, name: str) -> int | None:
    """The document index of an HPA whose scaleTargetRef points at kind/name."""
    for index, doc in docs:
        if _is(doc, HPA_KIND):
            ref = (doc.get("spec") or {}).get("scaleTargetRef") or {}
            if (
                isinstance(ref, dict)
                and ref.get("name") == name
                and str(ref.get("kind", kind)).lower() == kind.lower()
            ):
                return index
    return None


def to_units(field: str, raw: Any) -> Any:
    """A manifest value in the domain's units: replicas int, CPU cores, memory bytes, image text."""
    if raw is None:
        return None
    field = normalise_field(field)
    if field.startswith("cpu"):
        return parse_cpu(raw)
    if field.startswith("memory"):
        return parse_memory(raw)
    if field == "image":
        return str(raw)
    return int(raw)


def to_text(field: str, value: Any, old: Any = None) -> Any:
    """The value to write: quantities as Kubernetes text in the old value's style, counts as int."""
    field = normalise_field(field)
    if field == "image":
        return str(value)
    if field.startswith("cpu"):
        if isinstance(value, str):
            parse_cpu(value)  # validates
            return value
        milli = isinstance(old, str) and old.strip().endswith("m")
        return format_cpu(float(value), milli=milli)
    if field.startswith("memory"):
        if isinstance(value, str):
            parse_memory(value)
            return value
        return format_memory(value)
    try:
        count = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} takes a whole number, got {value!r}") from exc
    if count < 0 or str(count) != str(value).strip():
        raise InvalidInput(f"{field} takes a whole number of at least 0, got {value!r}")
    return count


@dataclass
class FieldEdit:
    edit: Edit
    document: str  # KIND/NAME of the document edited
    path: str  # the YAML path edited, e.g. spec.template.spec.containers[0].resources.limits.cpu
    container: str | None
    old: Any  # in the field's units
    new: Any


def field_location(
    parsed: Parsed, resource: str, field: str, container: str | None = None
) -> tuple[int, list[Segment], str | None, str]:
    """(document index, path, container name, KIND/NAME) of a field of a resource in a parsed file."""
    field = normalise_field(field)
    kind, name = split_resource(resource)
    docs = parsed.documents()
    if field.startswith("hpa-"):
        hpa = (
            next((i for i, d in docs if _is(d, kind, name)), None)
            if kind.lower() == "horizontalpodautoscaler"
            else None
        )
        if hpa is None:
            hpa = hpa_for(docs, kind, name)
        if hpa is None:
            raise InvalidInput(f"no HorizontalPodAutoscaler for {resource} in this file")
        key = "minReplicas" if field == "hpa-min-replicas" else "maxReplicas"
        hpa_name = parsed.data[hpa]["metadata"]["name"]
        return hpa, ["spec", key], None, f"{HPA_KIND}/{hpa_name}"
    hits = [(i, d) for i, d in docs if _is(d, kind, name)]
    if len(hits) != 1:
        present = ", ".join(
            f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}" for _, d in docs if isinstance(d, dict)
        )
        what = f"{len(hits)} documents are {resource}" if hits else f"{resource} is not"
        raise InvalidInput(f"{what} in this file (present: {present or 'none'})")
    index, doc = hits[0]
    label = f"{doc.get('kind')}/{name}"
    if field == "replicas":
        if str(doc.get("kind")) == "DaemonSet":
            raise InvalidInput(f"{label} is a DaemonSet: it runs one pod per node and has no replicas")
        return index, ["spec", "replicas"], None, label
    position, chosen = choose_container(doc, name, container)
    base: list[Segment] = [*pod_spec_path(doc), "containers", position]
    if field == "image":
        return index, [*base, "image"], chosen, label
    section, quantity = _RESOURCE_FIELDS[field]
    return index, [*base, "resources", section, quantity], chosen, label


def edit_field(
    text: str, resource: str, field: str, value: Any, container: str | None = None, where: str = "the file"
) -> FieldEdit:
    parsed = parse(text, where)
    index, path, chosen, label = field_location(parsed, resource, field, container)
    current: Any = parsed.data[index]
    for seg in path:
        current = (
            current.get(seg)
            if isinstance(current, dict)
            else (current[seg] if isinstance(seg, int) else None)
        )
    edit = edit_path(text, path, to_text(field, value, current), document=index, where=where)
    return FieldEdit(
        edit, label, format_path(path), chosen, to_units(field, current), to_units(field, edit.new)
    )


def set_field(text: str, resource: str, field: str, value: Any, container: str | None = None) -> str:
    """The new text with one field of one resource set; every other byte unchanged."""
    return edit_field(text, resource, field, value, container).edit.text
