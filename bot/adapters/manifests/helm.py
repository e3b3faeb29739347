"""Workloads rendered by a Helm chart: their values live in the chart's values files."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from bot.adapters.manifests.editor import Parsed
from bot.adapters.manifests.layout import (
    HELM_PATHS,
    PROD_VALUES,
    dig,
    helm_autoscaling,
    helm_replicas_key,
    join_image,
)
from bot.adapters.manifests.model import Effective, Workload
from bot.adapters.manifests.resources import WORKLOAD_KINDS, to_units
from bot.domain.errors import InvalidInput


def chart_kind(root: Path, chart_dir: str) -> str:
    """The workload kind a chart's templates render (Deployment when none is named)."""
    for template in sorted((root / chart_dir / "templates").glob("*.y*ml")):
        text = template.read_text(errors="replace")
        for kind in WORKLOAD_KINDS:
            if f"kind: {kind}" in text:
                return kind
    return "Deployment"


def values_file(parsed: dict[str, Parsed], w: Workload, path: list[str]) -> str:
    """A production values file that sets ``path`` wins over the chart's values.yaml."""
    assert w.chart is not None
    for candidate in PROD_VALUES:
        rel = posixpath.join(w.chart, candidate)
        if rel in parsed and dig(parsed[rel].data[0], list(path)) is not None:
            return rel
    return w.file


def chart_sections(values: Any) -> list[str]:
    """The per-service sections of an umbrella chart's values (``cartService: {resources: ...}``)."""
    if not isinstance(values, dict) or any(k in values for k in ("resources", "replicaCount")):
        return []
    keys = ("resources", "replicaCount", "replicas")
    return [k for k, v in values.items() if isinstance(v, dict) and any(s in v for s in keys)]


def helm_effective(parsed: dict[str, Parsed], w: Workload, name: str) -> Effective:
    prefix = [w.values_prefix] if w.values_prefix else []
    values = dig(parsed[w.file].data[0], prefix)
    scaler = helm_autoscaling(values)
    if name == "replicas" and scaler:
        path = [*prefix, scaler, "maxReplicas"]
        why = f"{w.file} enables {scaler}, which owns the replica count; scaling raises its maxReplicas"
        return Effective(w.file, ".".join(path), dig(values, path[len(prefix) :]), why, "hpa.maxReplicas")
    if name in ("hpa.maxReplicas", "hpa.minReplicas"):
        if not scaler:
            raise InvalidInput(f"{w.file} does not enable autoscaling for {w.name}")
        path = [scaler, name.split(".")[1]]
    elif name == "image":
        path = ["image", "tag"]
    else:
        path = [helm_replicas_key(values)] if name == "replicas" else HELM_PATHS[name]
    path = [*prefix, *path]
    rel = values_file(parsed, w, path)
    data = parsed[rel].data[0]
    if name == "image":
        repository = [*prefix, "image", "repository"]
        repo, tag = dig(data, repository) or dig(parsed[w.file].data[0], repository), dig(data, path)
        value: Any = join_image(str(repo), str(tag) if tag is not None else None, None) if repo else tag
    else:
        value = to_units(name, dig(data, path)) if dig(data, path) is not None else None
    return Effective(rel, ".".join(path), value, f"chart {w.chart} takes {'.'.join(path)} from {rel}", name)
