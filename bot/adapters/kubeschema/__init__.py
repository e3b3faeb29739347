"""Offline Kubernetes schema validation (kubernetes-validate ships the OpenAPI schemas)."""

from bot.adapters.kubeschema.validator import KubernetesSchema

__all__ = ["KubernetesSchema"]
