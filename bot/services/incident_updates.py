"""What happened to an alert group since its last chat update, as a job's arguments."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.domain.alert import AlertGroup


@dataclass(frozen=True)
class Receipt:
    group_key: str
    duplicate: bool


@dataclass
class PendingUpdate:
    """What happened to a group since its last chat update."""

    group: AlertGroup
    new_firing: int = 0
    resolved: bool = False
    refired: bool = False
    first: bool = False
    requested_by: str | None = None
    since: float = field(default_factory=time.monotonic)

    def job_args(self, key: str) -> dict[str, Any]:
        args = asdict(self)
        args.update(key=key, group=self.group.model_dump(mode="json"))
        del args["since"]
        return args

    @classmethod
    def from_job(cls, group: dict[str, Any], **fields: Any) -> PendingUpdate:
        return cls(AlertGroup.model_validate(group), **fields)
