"""A GitOps repository on disk: which workloads it defines and where each value is effectively set.

Plain manifests, Kustomize overlays (``replicas:`` and ``images:`` override the base), Helm values
files, and HorizontalPodAutoscalers (which own the replica count) are understood. Where a value is
set is resolved in ``effective``; ``plan`` drafts the minimal edit of the file that really decides
it, with a diff ``git apply`` accepts. ``ManifestRepo`` is the core's ``ManifestWorkspace``
(``bot.ports.workspace``); only the composition root builds it."""

from __future__ import annotations

import copy
import posixpath
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.adapters.manifests.editor import BY_LINE_NOTE, Parsed, edit_path, parse, unified_diff
from bot.adapters.manifests.effective import EffectiveValues
from bot.adapters.manifests.files import scanned_files
from bot.adapters.manifests.helm import chart_kind, chart_sections, merged_values
from bot.adapters.manifests.layout import (
    Kustomization,
    chain_for,
    helm_autoscaling,
    image_writes,
    is_kustomization,
    join_image,
    link,
    split_image,
)
from bot.adapters.manifests.repair import repair_dedented_lists
from bot.adapters.manifests.resources import (
    HPA_KIND,
    WORKLOAD_KINDS,
    canonical_field,
    containers_of,
    edit_field,
    normalise_field,
    to_text,
    to_units,
)
from bot.adapters.manifests.tree import locate, parse_path
from bot.domain.errors import InvalidInput
from bot.domain.manifest import Effective, PlannedEdit, Workload, dig
from bot.domain.proposal import FieldChange

__all__ = ["Effective", "ManifestRepo", "PlannedEdit", "Workload"]


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # bytes, so CRLF line endings survive


class ManifestRepo:
    """A snapshot of the repository's YAML files as they are on disk when it is built."""

    def __init__(self, root: Path, git_timeout_s: float = 120.0) -> None:
        """``git_timeout_s`` bounds listing the repository's files (``git_budget_s``)."""
        self.root = Path(root)
        self.git_timeout_s = git_timeout_s
        self.parsed: dict[str, Parsed] = {}
        self.skipped: dict[str, str] = {}  # files that could not be read, and why
        self.charts: dict[str, str] = {}  # chart directory -> chart name
        self._scan()

    # --- discovery -------------------------------------------------------------------------------

    def _scan(self) -> None:
        paths = scanned_files(self.root, self.git_timeout_s)
        for p in paths:
            rel = p.relative_to(self.root).as_posix()
            if p.name in ("Chart.yaml", "values.yaml") and (
                p.name == "Chart.yaml" or (p.parent / "templates").is_dir()
            ):
                self.charts.setdefault(posixpath.dirname(rel), p.parent.name)
        for p in paths:
            rel = p.relative_to(self.root).as_posix()
            if p.suffix not in (".yaml", ".yml") or not p.is_file() or self._in_templates(rel):
                continue
            try:
                text = _read(p)
                parsed = parse(text, rel)
            except (InvalidInput, UnicodeDecodeError) as exc:
                self.skipped[rel] = str(exc)
                continue
            except OSError as exc:  # removed or replaced while the scan ran
                self.skipped[rel] = f"could not be read: {exc.strerror or exc}"
                continue
            if parsed.by_line and "{{" in text:
                self.skipped[rel] = "a template, not a manifest"
                continue
            self.parsed[rel] = parsed
            if p.name == "Chart.yaml" and isinstance(parsed.data[0], dict) and parsed.data[0].get("name"):
                self.charts[posixpath.dirname(rel)] = str(parsed.data[0]["name"])
        self.kustomizations = {
            rel: Kustomization(rel, p.data[0])
            for rel, p in self.parsed.items()
            if p.data and is_kustomization(rel, p.data[0])
        }
        link(self.kustomizations, set(self.parsed))
        self.patches = {f for k in self.kustomizations.values() for f in k.patch_files()}
        self.values = EffectiveValues(self.parsed, self.kustomizations)

    def _in_templates(self, rel: str) -> bool:
        parts = rel.split("/")
        return any(parts[i] == "templates" and "/".join(parts[:i]) in self.charts for i in range(len(parts)))

    def _docs(self, kind: str) -> list[tuple[str, int, dict[str, Any]]]:
        return [
            (rel, i, doc)
            for rel, parsed in self.parsed.items()
            for i, doc in parsed.documents()
            if isinstance(doc, dict) and doc.get("kind") == kind and isinstance(doc.get("metadata"), dict)
        ]

    def _hpa(self, kind: str, name: str, near: str, built_by: Kustomization | None) -> tuple[str, str] | None:
        """(file, name) of the HPA that scales kind/name: the nearest one, and under Kustomize one
        that the same overlay deploys."""
        hits = []
        for rel, _i, doc in self._docs(HPA_KIND):
            if built_by is not None and rel not in built_by.files:
                continue
            ref = (doc.get("spec") or {}).get("scaleTargetRef") or {}
            if isinstance(ref, dict) and ref.get("name") == name and ref.get("kind", kind) == kind:
                shared = len(posixpath.commonpath([posixpath.dirname(rel), posixpath.dirname(near)]) or "")
                hits.append((-shared, rel, str(doc["metadata"].get("name"))))
        return (min(hits)[1], min(hits)[2]) if hits else None

    def workloads(self) -> list[Workload]:
        found: list[Workload] = []
        for kind in WORKLOAD_KINDS:
            for rel, _i, doc in self._docs(kind):
                name = doc["metadata"].get("name")
                if not isinstance(name, str) or rel in self.patches:
                    continue
                namespace = doc["metadata"].get("namespace")
                chain, _why = chain_for(self.kustomizations, rel)
                if not namespace and chain:
                    namespace = next((k.data["namespace"] for k in chain if k.data.get("namespace")), None)
                hpa = self._hpa(kind, name, rel, chain[0] if chain else None)
                containers = [str(c.get("name")) for c in containers_of(doc)]
                found.append(Workload(name, kind, rel, containers, namespace, *(hpa or (None, None))))
        for chart_dir, chart_name in self.charts.items():
            values = posixpath.join(chart_dir, "values.yaml")
            if values in self.parsed:
                kind = chart_kind(self.root, chart_dir)
                sections: list[str | None] = [*chart_sections(self.parsed[values].data[0])]
                for section in sections or [None]:
                    name = section or chart_name
                    found.append(Workload(name, kind, values, [name], chart=chart_dir, values_prefix=section))
        return sorted(found, key=lambda w: (w.name, w.file))

    def find(self, name: str, kind: str | None = None, namespace: str | None = None) -> Workload:
        """The workload called ``name``; when several files define it, the one production builds."""
        candidates = [
            w for w in self.workloads() if kind in (None, w.kind) and namespace in (None, w.namespace)
        ]
        hits = [w for w in candidates if w.name == name] or [
            w
            for w in candidates
            if _loose(w.name) == _loose(name)  # cartService for cartservice
        ]
        if not hits:
            known = ", ".join(sorted({w.name for w in self.workloads()})) or "none"
            raise InvalidInput(f"no workload named {name!r} in the GitOps repository (workloads: {known})")
        built = [w for w in hits if chain_for(self.kustomizations, w.file)[0]]
        return (built or hits)[0]

    # --- effective values -----------------------------------------------------------------------

    def _workload(self, workload: Workload | str) -> Workload:
        return workload if isinstance(workload, Workload) else self.find(workload)

    def effective(self, workload: Workload | str, field: str, container: str | None = None) -> Effective:
        """Where ``field`` of the workload is effectively set (``EffectiveValues.of``)."""
        return self.values.of(self._workload(workload), field, container)

    # --- planning ---------------------------------------------------------------------------------

    def plan(
        self, workload: Workload | str, field: str, value: Any, container: str | None = None
    ) -> PlannedEdit:
        """The minimal edit that makes ``field`` take ``value`` (replicas int, CPU cores, bytes, image)."""
        w = self._workload(workload)
        eff = self.effective(w, field, container)
        notes = [eff.explanation]
        writes: list[tuple[str, Any]] = []  # (path in eff.file, value to write)
        change = FieldChange(file=eff.file, field=eff.field, **{"from": eff.value}, resource=w.resource)
        if eff.field == "hpa.maxReplicas" and canonical_field(field) == "replicas":
            low = self._hpa_min(w)
            if low is not None and int(value) < low:
                raise InvalidInput(f"{value} replicas is below the autoscaler's minReplicas ({low})")
        if eff.file in self.kustomizations and eff.field == "image":
            writes = image_writes(
                eff.path.rsplit(".", 1)[0], str(eff.value), str(value), eff.path.endswith(".digest"), eff.file
            )
        elif eff.file in self.kustomizations or w.chart is not None or eff.path.startswith("["):
            writes = [(eff.path, self._text_value(eff, value))]  # an entry, a values key, a JSON patch
        else:
            text = self.parsed[eff.file].text
            resource = eff.document or w.resource
            done = edit_field(text, resource, eff.field, value, eff.container or container, where=eff.file)
            change.to, change.container = done.new, done.container
            change.resource = done.document
            return self._finish(w, {eff.file: done.edit.text}, [change], notes, done.edit.by_line)
        text, by_line = self.parsed[eff.file].text, False
        for path, raw in writes:
            edit = edit_path(text, path, raw, where=eff.file)
            text, by_line = edit.text, by_line or edit.by_line
        change.to = self._read_back(eff, text)
        return self._finish(w, {eff.file: text}, [change], notes, by_line)

    def _hpa_min(self, w: Workload) -> int | None:
        if w.chart is not None:
            values = merged_values(self.parsed, w)[0]
            scaler = helm_autoscaling(values)
            return dig(values, [scaler, "minReplicas"]) if scaler else None
        if not w.hpa_file or not w.hpa_name:
            return None
        low = dig(self.values.document(w.hpa_file, HPA_KIND, w.hpa_name), ["spec", "minReplicas"])
        return int(low) if low is not None else 1

    def _text_value(self, eff: Effective, value: Any) -> Any:
        if eff.field == "image":  # a chart's image.tag
            name, tag, digest = split_image(str(value))
            if eff.value and split_image(str(eff.value))[0] != name:
                raise InvalidInput(f"{eff.file} sets image.repository; change it to {name} by hand")
            return tag or digest or str(value)
        field = normalise_field(eff.field) if eff.field not in ("replicas",) else "replicas"
        parsed = self.parsed[eff.file]
        return to_text(field, value, dig(parsed.data[0], _data_path(parsed, eff.path)))

    def _read_back(self, eff: Effective, text: str) -> Any:
        parsed = parse(text, eff.file)
        if eff.field == "image" and eff.file in self.kustomizations:
            entry = dig(parsed.data[0], _data_path(parsed, eff.path.rsplit(".", 1)[0]))
            return join_image(entry.get("newName") or entry["name"], entry.get("newTag"), entry.get("digest"))
        raw = dig(parsed.data[0], _data_path(parsed, eff.path))
        if eff.field == "image":  # a chart's image.tag, shown with its repository
            repository = dig(parsed.data[0], [*eff.path.split(".")[:-1], "repository"])
            return join_image(str(repository), str(raw), None) if repository else str(raw)
        return to_units("replicas" if eff.field.startswith("hpa") else eff.field, raw)

    def _finish(
        self, w: Workload, texts: dict[str, str], changes: list[FieldChange], notes: list[str], by_line: bool
    ) -> PlannedEdit:
        if by_line:
            notes.append(BY_LINE_NOTE)
            texts = {rel: self._repaired(rel, new, notes) for rel, new in texts.items()}
        diff = "".join(unified_diff(rel, self.parsed[rel].text, new) for rel, new in texts.items())
        changed = {rel: new for rel, new in texts.items() if new != self.parsed[rel].text}
        return PlannedEdit(changes, diff, changed, notes)

    @staticmethod
    def _repaired(rel: str, text: str, notes: list[str]) -> str:
        """An invalid file is never applied by GitOps, so the edit also makes it valid YAML."""
        repair = repair_dedented_lists(text)
        if repair is None:
            return text
        keys = ", ".join(f"`{k}:`" for k in repair.keys)
        notes.append(
            f"{rel} was not valid YAML (the list under {keys} was indented less than its key), so no "
            f"GitOps tool could apply it; this change also re-indents those {repair.lines_moved} lines"
        )
        return repair.text

    def plan_all(
        self, workload: Workload | str, values: Sequence[tuple[str, Any]], container: str | None = None
    ) -> PlannedEdit:
        """Several values of one workload as one edit: each is planned on a scratch copy of the
        tree as the ones before it left it, so two values in one file both land."""
        name = workload.name if isinstance(workload, Workload) else workload
        originals: dict[str, str] = {}
        changes: list[FieldChange] = []
        notes: list[str] = []
        with tempfile.TemporaryDirectory(prefix="tugboat-plan-") as tmp:
            tree = Path(tmp) / "repo"
            shutil.copytree(self.root, tree, ignore=shutil.ignore_patterns(".git"))
            for field, value in values:
                scratch = ManifestRepo(tree, self.git_timeout_s)
                planned = scratch.plan(name, field, value, container)
                for rel in planned.new_texts:
                    originals.setdefault(rel, scratch.parsed[rel].text)
                scratch.apply(planned)
                changes += planned.changes
                notes += [n for n in planned.notes if n not in notes]
            texts = {rel: _read(tree / rel) for rel in originals}
        diff = "".join(unified_diff(rel, old, texts[rel]) for rel, old in sorted(originals.items()))
        changed = {rel: new for rel, new in texts.items() if new != originals[rel]}
        return PlannedEdit(changes, diff, changed, notes)

    def autoscaler(self, workload: Workload) -> dict[str, Any] | None:
        """A copy of the HorizontalPodAutoscaler document that scales the workload, if any."""
        if not workload.hpa_file or not workload.hpa_name or workload.hpa_file not in self.parsed:
            return None
        for _i, doc in self.parsed[workload.hpa_file].documents():
            if isinstance(doc, dict) and (doc.get("metadata") or {}).get("name") == workload.hpa_name:
                return copy.deepcopy(doc)
        return None

    def apply(self, planned: PlannedEdit) -> None:
        """Write a plan's new texts to the working tree (bytes, so line endings stay as they are)."""
        for rel, text in planned.new_texts.items():
            (self.root / rel).write_bytes(text.encode("utf-8"))


def _data_path(parsed: Parsed, path: str) -> list[str | int]:
    return locate(parsed.roots[0], parse_path(path), "the file").data_path


def _loose(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")
