"""Alerts as Alertmanager sends them (webhook payload version 4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.errors import InvalidInput, validation_problems

# Alertmanager writes this for "no end time"; we map it to None.
_ZERO_TIME = "0001-01-01T00:00:00Z"


def _parse_time(value: Any) -> datetime | None:
    if value in (None, "", _ZERO_TIME) or (isinstance(value, str) and value.startswith("0001-01-01")):
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def promql_from_generator_url(url: str) -> str | None:
    """The alert rule's expression: Prometheus puts it in the ``g0.expr`` query parameter."""
    if not url:
        return None
    exprs = parse_qs(urlparse(url).query).get("g0.expr")
    return exprs[0] if exprs else None


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    _parse_times = field_validator("starts_at", "ends_at", mode="before")(_parse_time)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed alert")

    @property
    def expr(self) -> str | None:
        return promql_from_generator_url(self.generator_url)

    @property
    def namespace(self) -> str | None:
        return self.labels.get("namespace")


class AlertGroup(BaseModel):
    """One webhook notification: a group of alerts that share ``groupKey``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    version: str = "4"
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_key: str = Field(alias="groupKey")
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    alerts: list[Alert] = Field(min_length=1)

    @property
    def primary(self) -> Alert:
        """The alert an investigation starts from: the first firing one, else the first."""
        return next((a for a in self.alerts if a.status == "firing"), self.alerts[0])

    @property
    def started_at(self) -> datetime | None:
        starts = [a.starts_at for a in self.alerts if a.starts_at]
        return min(starts) if starts else None

    @property
    def title(self) -> str:
        labels = self.common_labels or self.primary.labels
        where = labels.get("namespace")
        return f"{labels.get('alertname', 'alert')}" + (f" in {where}" if where else "")


def parse_alert_group(raw: bytes | str | dict[str, Any]) -> AlertGroup:
    """Parse a webhook body, raising InvalidInput with a readable reason on bad input."""
    if isinstance(raw, bytes | str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"alert payload is not JSON: {exc.msg} (line {exc.lineno})") from None
        except UnicodeDecodeError:
            raise InvalidInput("alert payload is not UTF-8 text") from None
        except RecursionError:
            raise InvalidInput("alert payload is nested too deeply for an Alertmanager webhook") from None
    else:
        data = raw
    if not isinstance(data, dict):
        raise InvalidInput("alert payload must be a JSON object (an Alertmanager webhook body)")
    version = str(data.get("version", "4"))
    if version != "4":
        raise InvalidInput(f"unsupported Alertmanager webhook version {version!r}; Tugboat reads version 4")
    try:
        return AlertGroup.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"not a valid Alertmanager webhook payload: {validation_problems(exc)}") from None


def now_utc() -> datetime:
    return datetime.now(UTC)
