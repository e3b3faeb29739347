"""How a GitOps repository is put together: Kustomize overlays over bases, Helm charts and their values."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from bot.domain.errors import InvalidInput

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
PREFERRED_OVERLAYS = ("production", "prod")


@dataclass
class Kustomization:
    file: str  # path relative to the repository root (posix)
    data: dict[str, Any]
    files: set[str] = field(default_factory=set)  # manifest files it includes, directly or not
    includes: set[str] = field(default_factory=set)  # kustomization files it includes, directly or not

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.file)

    def entries(self) -> list[str]:
        out: list[str] = []
        for key in ("resources", "bases", "components"):
            value = self.data.get(key)
            if isinstance(value, list):
                out.extend(str(v) for v in value if isinstance(v, str) and "://" not in v)
        return out

    def patch_files(self) -> list[str]:
        """Repository-relative files this kustomization applies as patches."""
        found: list[str] = []
        merge = self.data.get("patchesStrategicMerge")
        if isinstance(merge, list):
            found += [e for e in merge if isinstance(e, str) and "\n" not in e]
        for key in ("patches", "patchesJson6902"):
            patches = self.data.get(key)
            if isinstance(patches, list):
                found += [
                    e["path"] for e in patches if isinstance(e, dict) and isinstance(e.get("path"), str)
                ]
        return [posixpath.normpath(posixpath.join(self.directory, f)) for f in found]

    def replica_override(self, name: str) -> int | None:
        """Index in ``replicas:`` of the entry for a workload name."""
        return _entry_index(self.data.get("replicas"), name)

    def image_override(self, image_name: str) -> int | None:
        return _entry_index(self.data.get("images"), image_name)


def _entry_index(entries: Any, name: str) -> int | None:
    if not isinstance(entries, list):
        return None
    hits = [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("name") == name]
    return hits[0] if len(hits) == 1 else None


def is_kustomization(rel: str, data: Any) -> bool:
    if posixpath.basename(rel) in KUSTOMIZATION_NAMES:
        return isinstance(data, dict)
    return (
        isinstance(data, dict)
        and data.get("kind") in ("Kustomization", "Component")
        and str(data.get("apiVersion", "")).startswith("kustomize.config.k8s.io")
    )


def link(kustomizations: dict[str, Kustomization], files: set[str]) -> None:
    """Fill each kustomization's transitive ``files`` and ``includes``."""
    by_dir = {k.directory: k for k in kustomizations.values()}

    def visit(k: Kustomization, seen: set[str]) -> None:
        if k.file in seen:
            return
        seen.add(k.file)
        for entry in k.entries():
            target = posixpath.normpath(posixpath.join(k.directory, entry))
            if target in files:
                k.files.add(target)
            elif target in by_dir and by_dir[target].file != k.file:
                inner = by_dir[target]
                visit(inner, seen)
                k.includes.add(inner.file)
                k.includes |= inner.includes
                k.files |= inner.files

    for k in kustomizations.values():
        visit(k, set())


def chain_for(kustomizations: dict[str, Kustomization], file: str) -> tuple[list[Kustomization], str]:
    """The kustomizations that build ``file``, outermost first, and why that overlay was chosen."""
    covering = [k for k in kustomizations.values() if file in k.files]
    if not covering:
        return [], ""
    included = set().union(*(k.includes for k in covering))
    roots = sorted((k for k in covering if k.file not in included), key=lambda k: k.file)
    parts = {k.file: k.directory.lower().split("/") for k in roots}
    preferred = [k for k in roots if set(parts[k.file]) & set(PREFERRED_OVERLAYS)] or [
        k for k in roots if any(part.startswith(PREFERRED_OVERLAYS) for part in parts[k.file])
    ]
    root = (preferred or roots)[0]
    why = ""
    if len(roots) > 1:
        others = ", ".join(k.directory for k in roots if k is not root)
        reason = (
            "it is the production overlay"
            if preferred
            else "no overlay is named production or prod; first by name"
        )
        why = f"{len(roots)} overlays build {file}; chose {root.directory} ({reason}) over {others}"
    # outermost first: the fewer kustomizations include one, the later kustomize applies it
    inner = sorted(
        (k for k in covering if k.file in root.includes),
        key=lambda k: (sum(k.file in x.includes for x in covering), k.file),
    )
    return [root, *inner], why


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None


def join_image(name: str, tag: str | None, digest: str | None) -> str:
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


# --- Helm -------------------------------------------------------------------------------------------

HELM_PATHS = {
    "replicas": ["replicaCount"],
    "cpu": ["resources", "limits", "cpu"],
    "memory": ["resources", "limits", "memory"],
    "cpu_request": ["resources", "requests", "cpu"],
    "memory_request": ["resources", "requests", "memory"],
}
PROD_VALUES = ("values-production.yaml", "values-prod.yaml", "values.production.yaml", "values.prod.yaml")


def helm_autoscaling(values: Any) -> str | None:
    """The values key of an enabled autoscaler block (``autoscaling`` or ``hpa``)."""
    if not isinstance(values, dict):
        return None
    for key in ("autoscaling", "hpa"):
        block = values.get(key)
        if isinstance(block, dict) and block.get("enabled") is True and "maxReplicas" in block:
            return key
    return None


def helm_replicas_key(values: Any) -> str:
    if isinstance(values, dict) and "replicas" in values and "replicaCount" not in values:
        return "replicas"
    return "replicaCount"


def image_writes(
    entry_path: str, old_image: str, image: str, by_digest: bool, where: str
) -> list[tuple[str, str]]:
    """The edits of a kustomization ``images:`` entry that make it produce ``image``."""
    name, tag, digest = split_image(image)
    old_name = split_image(old_image)[0]
    writes: list[tuple[str, str]] = []
    if name != old_name:
        writes.append((f"{entry_path}.newName", name))
    if digest:
        writes.append((f"{entry_path}.digest", digest))
    elif tag:
        if by_digest:
            raise InvalidInput(f"{where} pins {old_name} by digest; give a digest (name@sha256:...)")
        writes.append((f"{entry_path}.newTag", tag))
    return writes
