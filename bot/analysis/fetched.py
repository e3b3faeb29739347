"""What an investigation fetched, aligned on one time grid: the data every analysis step reads.

Its own module so that the steps that fill it (``gather``, ``red``) and those that read it
(``signals``, ``context``) share the type without importing one another."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bot.analysis import discovery as disc
from bot.analysis.workloads import Ownership

Key = tuple[str, ...]


@dataclass
class Fetched:
    """Everything fetched, aligned on one time grid (unix seconds)."""

    grid: np.ndarray
    step: float
    namespace: str | None
    names: set[str] = field(default_factory=set)
    ownership: Ownership = field(default_factory=Ownership)
    container: dict[str, dict[Key, np.ndarray]] = field(default_factory=dict)  # cpu, thr, periods...
    limits: dict[Key, np.ndarray] = field(default_factory=dict)  # (pod, container, resource)
    requests: dict[Key, np.ndarray] = field(default_factory=dict)  # (pod, container, resource)
    pod_node: dict[str, str] = field(default_factory=dict)  # pod -> node it ran on
    node_capacity: dict[tuple[str, str], float] = field(default_factory=dict)  # (node, cpu|memory)
    terminated: dict[Key, np.ndarray] = field(default_factory=dict)  # (pod, container, reason)
    waiting: dict[Key, np.ndarray] = field(default_factory=dict)
    images: dict[Key, str] = field(default_factory=dict)  # (pod, container) -> image
    deployments: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    hpas: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    hpa_target: dict[str, str] = field(default_factory=dict)  # hpa -> workload
    red: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # workload -> rps/err/p99
    client: dict[tuple[str, str], dict[str, np.ndarray]] = field(default_factory=dict)
    alert_series: list[tuple[dict[str, str], np.ndarray]] = field(default_factory=list)
    alert_expr: str | None = None
    queries: dict[str, str] = field(default_factory=dict)  # what ran, for evidence
    failures: list[str] = field(default_factory=list)
    server_metric: disc.RedMetric | None = None
    client_metric: disc.ClientMetric | None = None

    @property
    def ok(self) -> bool:
        return bool(self.names) or any(self.container.values())
