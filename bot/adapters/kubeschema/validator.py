"""Validate Kubernetes objects against the schemas bundled with kubernetes-validate.

No network: the package ships JSON schemas per Kubernetes minor version. Strict schemas are
used, so a misspelt field (``replica:``) is an error rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kubernetes_validate
from kubernetes_validate.utils import (
    SchemaNotFoundError,
    ValidationError,
    VersionNotSupportedError,
    all_versions,
)

from bot.domain.errors import InvalidInput


class KubernetesSchema:
    def __init__(self, version: str, strict: bool = True) -> None:
        supported = all_versions()
        wanted = version.removeprefix("v")
        if not any(v.removeprefix("v").startswith(_minor(wanted)) for v in supported):
            raise InvalidInput(
                f"kubernetes_version {version!r} has no bundled schemas; use one of "
                f"{', '.join(sorted({_minor(v.removeprefix('v')) for v in supported}))}"
            )
        self.version = wanted
        self.strict = strict

    def problems(self, document: Mapping[str, Any]) -> list[str] | None:
        """Schema errors in ``document`` ([] when valid), or None when no schema knows its kind."""
        try:
            kubernetes_validate.validate(dict(document), self.version, self.strict)
        except SchemaNotFoundError:
            return None  # a CRD or unknown kind: the typed rules still apply
        except VersionNotSupportedError as exc:  # checked in __init__; kept for safety
            raise InvalidInput(str(exc)) from None
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "(document)"
            return [f"{where}: {exc.message}"]
        return []


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
