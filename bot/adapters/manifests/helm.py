"""Workloads rendered by a Helm chart: their values live in the chart's values files."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from bot.adapters.manifests.editor import Parsed
from bot.adapters.manifests.layout import (
    HELM_PATHS,
    PROD_VALUES,
    helm_autoscaling,
    helm_replicas_key,
    join_image,
)
from bot.adapters.manifests.resources import WORKLOAD_KINDS, to_units
from bot.domain.errors import InvalidInput
from bot.domain.manifest import Effective, Workload, dig


def chart_kind(root: Path, chart_dir: str) -> str:
    """The workload kind a chart's templates render (Deployment when none is named)."""
    for template in sorted((root / chart_dir / "templates").glob("*.y*ml")):
        text = template.read_text(errors="replace")
        for kind in WORKLOAD_KINDS:
            if f"kind: {kind}" in text:
                return kind
    return "Deployment"


def _listed(doc: dict[str, Any], chart_dir: str) -> list[str] | None:
    """Values files, repository-relative, that an Argo CD Application or a Flux HelmRelease renders
    the chart at ``chart_dir`` with (None when the document does not deploy that chart)."""
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return None
    if doc.get("kind") == "Application":
        sources = [spec.get("source"), *(spec.get("sources") or [])]
        for src in sources:
            if isinstance(src, dict) and posixpath.normpath(str(src.get("path", ""))) == chart_dir:
                files = dig(src, ["helm", "valueFiles"]) or []
                return [
                    posixpath.normpath(posixpath.join(chart_dir, str(f))) for f in files if "$" not in str(f)
                ]
    if doc.get("kind") == "HelmRelease":
        chart = dig(spec, ["chart", "spec"]) or {}
        if isinstance(chart, dict) and posixpath.normpath(str(chart.get("chart", ""))) == chart_dir:
            files = chart.get("valuesFiles") or ([chart["valuesFile"]] if chart.get("valuesFile") else [])
            return [posixpath.normpath(str(f)) for f in files]  # relative to the source's root
    return None


def value_files(parsed: dict[str, Parsed], chart_dir: str) -> tuple[list[str], str]:
    """The chart's values files in the order Helm merges them, later ones winning, and why: the
    chart's values.yaml, then the files its Argo CD Application or Flux HelmRelease lists, in that
    order; without either, values.yaml then a production values file."""
    default = posixpath.join(chart_dir, "values.yaml")
    for rel, p in sorted(parsed.items()):
        for _i, doc in p.documents():
            listed = _listed(doc, chart_dir) if isinstance(doc, dict) else None
            if listed is not None:
                files = [default, *(f for f in listed if f != default)]
                name = (doc.get("metadata") or {}).get("name", "?")
                return files, f"{doc['kind']}/{name} in {rel} lists its values files"
    for candidate in PROD_VALUES:
        rel = posixpath.join(chart_dir, candidate)
        if rel in parsed:
            return [
                default,
                rel,
            ], f"no Application or HelmRelease lists its values files; {rel} is the production one"
    return [default], ""


def merged_values(parsed: dict[str, Parsed], w: Workload) -> tuple[dict[str, Any], list[str], str]:
    """The workload's values as Helm merges its files (its umbrella section only), the files, and why."""
    assert w.chart is not None
    files, why = value_files(parsed, w.chart)
    merged: Any = {}
    for rel in files:
        if rel in parsed and parsed[rel].data:
            merged = _merge(merged, dig(parsed[rel].data[0], [w.values_prefix] if w.values_prefix else []))
    return (merged if isinstance(merged, dict) else {}), files, why


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **{k: _merge(a.get(k), v) if k in a else v for k, v in b.items()}}
    return a if b is None else b


def chart_sections(values: Any) -> list[str]:
    """The per-service sections of an umbrella chart's values (``cartService: {resources: ...}``)."""
    if not isinstance(values, dict) or any(k in values for k in ("resources", "replicaCount")):
        return []
    keys = ("resources", "replicaCount", "replicas")
    return [k for k, v in values.items() if isinstance(v, dict) and any(s in v for s in keys)]


def helm_effective(parsed: dict[str, Parsed], w: Workload, name: str) -> Effective:
    assert w.chart is not None
    prefix = [w.values_prefix] if w.values_prefix else []
    values, files, why = merged_values(parsed, w)
    scaler = helm_autoscaling(values)
    order = " < ".join(posixpath.basename(f) for f in files)
    chain = f"chart {w.chart} merges {order}" + (f" ({why})" if why else "")
    if name == "replicas" and scaler:
        path, field = [*prefix, scaler, "maxReplicas"], "hpa.maxReplicas"
        chain += f"; the merged values enable {scaler}, which owns the replica count"
    elif name in ("hpa.maxReplicas", "hpa.minReplicas"):
        if not scaler:
            raise InvalidInput(
                f"no values file of chart {w.chart} ({order}) enables autoscaling for {w.name}"
            )
        path, field = [*prefix, scaler, name.split(".")[1]], name
    elif name == "image":
        path, field = [*prefix, "image", "tag"], name
    else:
        path, field = (
            [*prefix, *([helm_replicas_key(values)] if name == "replicas" else HELM_PATHS[name])],
            name,
        )
    setters = [
        rel
        for rel in files
        if rel in parsed and parsed[rel].data and dig(parsed[rel].data[0], path) is not None
    ]
    rel = setters[-1] if setters else w.file
    raw = dig(values, path[len(prefix) :])
    if name == "image":
        repo = dig(values, ["image", "repository"])
        value: Any = join_image(str(repo), str(raw) if raw is not None else None, None) if repo else raw
    else:
        value = to_units("replicas" if field.startswith("hpa") else name, raw) if raw is not None else None
    where = (
        f"{rel} sets {'.'.join(path)}, last of the files that set it"
        if setters
        else f"no values file sets {'.'.join(path)}"
    )
    return Effective(rel, ".".join(path), value, f"{chain}; {where}", field)
