"""The one typed settings object.

Sources, strongest first: explicit arguments, environment variables, ``tugboat.yaml``
(or the file named by ``TUGBOAT_CONFIG``), then defaults. Secrets use the names their
ecosystems already use (``OPENAI_API_KEY``, ``SLACK_BOT_TOKEN``, ``GITHUB_TOKEN``...);
everything else is ``TUGBOAT_<FIELD>``. Structured sections (policy, routing, kinds) are nested
models, written in the YAML file or as JSON in their variable; the approval policy's model
lives with the decisions made on it, in ``bot.domain.policy``.

The fields live in their sections (``bot.settings.sections``); here are where they are read from,
the checks that span them, and what the rest of Tugboat asks of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from bot.domain.policy import ApprovalPolicy
from bot.settings.sections import (
    AfterMergeSettings,
    AnomalyWatchSettings,
    CapacitySettings,
    DeadlineSettings,
    EvidenceSettings,
    GeneralSettings,
    GitHubSettings,
    HttpSettings,
    JobSettings,
    LlmSettings,
    RequestLimitSettings,
    Route,
    SlackJournalSettings,
    SlackSettings,
    StoreSettings,
)

__all__ = ["DEFAULT_CONFIG_FILE", "ApprovalPolicy", "Route", "Settings", "load_settings"]

DEFAULT_CONFIG_FILE = "tugboat.yaml"


# pydantic lists inherited fields from the last base to the first: the sections in reverse
class Settings(
    GeneralSettings,
    SlackJournalSettings,
    RequestLimitSettings,
    HttpSettings,
    JobSettings,
    GitHubSettings,
    SlackSettings,
    LlmSettings,
    StoreSettings,
    AfterMergeSettings,
    AnomalyWatchSettings,
    CapacitySettings,
    DeadlineSettings,
    EvidenceSettings,
    BaseSettings,
):
    model_config = SettingsConfigDict(
        env_prefix="TUGBOAT_", extra="ignore", populate_by_name=True, validate_default=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("TUGBOAT_CONFIG", DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @field_validator("capacity_cron", "anomaly_cron", "housekeeping_cron")
    @classmethod
    def _cron(cls, value: str, info: ValidationInfo) -> str:
        from croniter import croniter

        if value.strip() and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (e.g. '0 */6 * * *')")
        if not value.strip() and info.field_name == "housekeeping_cron":
            raise ValueError("housekeeping expires proposals and resumes merges; it needs a schedule")
        return value.strip()

    def channel_for(self, labels: dict[str, str]) -> str | None:
        """The first ``slack_routes`` entry the labels match, else ``slack_channel``."""
        route = next((r for r in self.slack_routes if labels.get(r.label) == r.value), None)
        return route.channel if route else self.slack_channel

    @property
    def llm_configured(self) -> bool:
        return self.llm_enabled and self.openai_api_key is not None

    def masked(self) -> dict[str, Any]:
        """The effective configuration with every secret replaced by a mask."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "********" if value.get_secret_value() else ""
            elif name == "prometheus_headers":
                out[name] = {k: "********" for k in value}
            elif isinstance(value, BaseModel):
                out[name] = value.model_dump(mode="json")
            elif isinstance(value, list):
                out[name] = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
            else:
                out[name] = _mask_url(value) if name.endswith("_url") and isinstance(value, str) else value
        return out


def _mask_url(url: str) -> str:
    """Hide a password inside a URL such as postgresql://user:secret@host/db."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def load_settings(**overrides: Any) -> Settings:
    """The effective settings; a bad value is an ``InvalidInput`` naming the setting, not a traceback."""
    from pydantic import ValidationError

    from bot.domain.errors import InvalidInput

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise InvalidInput(f"invalid configuration: {where}: {first.get('msg', exc)}") from None
