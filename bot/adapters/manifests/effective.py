"""Where a workload's value is effectively set: the file and path that decide its replicas, image,
CPU or memory, through Kustomize overlays (``replicas:``, ``images:`` and patches), Helm values and
the HorizontalPodAutoscaler that owns the replica count. Read-only: ``ManifestRepo.plan`` edits
the place found here."""

from __future__ import annotations

from typing import Any

from bot.adapters.manifests.editor import Parsed
from bot.adapters.manifests.helm import helm_effective
from bot.adapters.manifests.layout import Kustomization, chain_for, join_image, split_image
from bot.adapters.manifests.patches import last_patch, pointers
from bot.adapters.manifests.resources import (
    HPA_KIND,
    canonical_field,
    choose_container,
    containers_of,
    to_units,
)
from bot.adapters.manifests.tree import Segment, format_path
from bot.domain.errors import InvalidInput
from bot.domain.manifest import Effective, Workload, dig


class EffectiveValues:
    """Resolves effective values over one snapshot of parsed files and their kustomizations."""

    def __init__(self, parsed: dict[str, Parsed], kustomizations: dict[str, Kustomization]) -> None:
        self.parsed = parsed
        self.kustomizations = kustomizations

    def document(self, rel: str, kind: str, name: str) -> dict[str, Any]:
        """A copy of the document ``kind/name`` in ``rel``."""
        for i, doc in self.parsed[rel].documents():
            if _is_doc(doc, kind, name):
                return dict(self.parsed[rel].data[i])
        raise InvalidInput(f"{rel} no longer defines {kind}/{name}")

    def of(self, w: Workload, field: str, container: str | None = None) -> Effective:
        """Where ``field`` of ``w`` is effectively set, with its value and the reason, in words."""
        name = canonical_field(field)
        if w.chart is not None:
            return helm_effective(self.parsed, w, name)
        if name in ("replicas", "hpa.maxReplicas", "hpa.minReplicas"):
            return self._replicas(w, name)
        doc = self.document(w.file, w.kind, w.name)
        position, chosen = choose_container(doc, w.name, container)
        spec = doc["spec"]["template"]["spec"] if "template" in doc.get("spec", {}) else {}
        base: list[Segment] = ["spec", "template", "spec", "containers", position]
        if name == "image":
            return self._image(w, str(dig(spec, ["containers", position, "image"]) or ""), base, chosen)
        section, quantity = ("limits" if name in ("cpu", "memory") else "requests"), name.split("_")[0]
        chain, why = chain_for(self.kustomizations, w.file)
        pointer = pointers([*base, "resources", section, quantity])
        for k in chain:
            hit = last_patch(
                self.parsed, k, w.kind, w.name,
                lambda d: dig(_container(d, chosen), ["resources", section, quantity]), pointer
            )  # fmt: skip
            if hit:
                path = (
                    hit.path or f"spec.template.spec.containers[name={chosen}].resources.{section}.{quantity}"
                )
                text = _join(
                    f"{hit.file} ({hit.kind} in {k.file}) sets {section}.{quantity} of {chosen}", why
                )
                return Effective(hit.file, path, to_units(name, hit.value), text, name, w.resource, chosen)
        raw = dig(spec, ["containers", position, "resources", section, quantity])
        how = f"container {chosen} of {w.resource} in {w.file}"
        return Effective(
            w.file, format_path([*base, "resources", section, quantity]), to_units(name, raw),
            f"{how} sets {section}.{quantity}" if raw is not None else f"{how} sets no {section}.{quantity}",
            name, w.resource, chosen,
        )  # fmt: skip

    def _replicas(self, w: Workload, name: str) -> Effective:
        if name != "replicas" or w.hpa_file:
            if not w.hpa_file or not w.hpa_name:
                raise InvalidInput(f"no HorizontalPodAutoscaler targets {w.resource}")
            key = "minReplicas" if name == "hpa.minReplicas" else "maxReplicas"
            hpa = self.document(w.hpa_file, HPA_KIND, w.hpa_name)
            why = f"{HPA_KIND}/{w.hpa_name} in {w.hpa_file} targets {w.resource}"
            if name == "replicas":
                why += " and owns its replica count, so scaling raises its maxReplicas"
            field_name = "hpa.minReplicas" if key == "minReplicas" else "hpa.maxReplicas"
            value = dig(hpa, ["spec", key])
            return Effective(w.hpa_file, f"spec.{key}", value, why, field_name, f"{HPA_KIND}/{w.hpa_name}")
        if w.kind == "DaemonSet":
            raise InvalidInput(f"{w.resource} is a DaemonSet: it runs one pod per node and has no replicas")
        chain, why = chain_for(self.kustomizations, w.file)
        for k in chain:
            index = k.replica_override(w.name)
            if index is not None:
                count = k.data["replicas"][index].get("count")
                text = f"{k.file} overrides the replica count of {w.name} set in {w.file}"
                return Effective(
                    k.file, f"replicas[name={w.name}].count", count, _join(text, why), "replicas"
                )
            hit = last_patch(
                self.parsed, k, w.kind, w.name, lambda doc: dig(doc, ["spec", "replicas"]), "/spec/replicas"
            )
            if hit:
                text = f"{hit.file} ({hit.kind} in {k.file}) sets the replica count of {w.resource}"
                return Effective(
                    hit.file, hit.path or "spec.replicas", hit.value, _join(text, why), "replicas", w.resource
                )
        value = dig(self.document(w.file, w.kind, w.name), ["spec", "replicas"])
        text = f"{w.resource} in {w.file} sets spec.replicas"
        if value is None:
            text = f"{w.resource} in {w.file} sets no spec.replicas (Kubernetes defaults to 1)"
        return Effective(w.file, "spec.replicas", value, text, "replicas", w.resource)

    def _image(self, w: Workload, image: str, base: list[Segment], container: str) -> Effective:
        name, tag, digest = split_image(image)
        chain, why = chain_for(self.kustomizations, w.file)
        for k in chain:
            index = k.image_override(name)
            if index is not None:
                entry = k.data["images"][index]
                new = join_image(
                    entry.get("newName") or name, entry.get("newTag") or tag, entry.get("digest") or digest
                )
                key = (
                    "digest"
                    if "digest" in entry
                    else "newTag"
                    if "newTag" in entry or "newName" not in entry
                    else "newName"
                )
                text = f"{k.file} overrides image {name} of container {container} in {w.file}"
                return Effective(k.file, f"images[name={name}].{key}", new, _join(text, why), "image")
        position = base[-1]
        for k in chain:
            hit = last_patch(
                self.parsed, k, w.kind, w.name, lambda d: dig(_container(d, container), ["image"]),
                pointers(["spec", "template", "spec", "containers", position, "image"]),
            )  # fmt: skip
            if hit:
                text = _join(f"{hit.file} ({hit.kind} in {k.file}) sets the image of {container}", why)
                path = hit.path or f"spec.template.spec.containers[name={container}].image"
                return Effective(hit.file, path, hit.value, text, "image", w.resource, container)
        text = f"container {container} of {w.resource} in {w.file} sets its image"
        return Effective(w.file, format_path([*base, "image"]), image, text, "image", w.resource, container)


def _join(text: str, why: str) -> str:
    return f"{text}; {why}" if why else text


def _is_doc(doc: Any, kind: str, name: str) -> bool:
    return (
        isinstance(doc, dict) and doc.get("kind") == kind and (doc.get("metadata") or {}).get("name") == name
    )


def _container(doc: Any, name: str) -> Any:
    for container in containers_of(doc):
        if container.get("name") == name:
            return container
    return None
