"""Declarative toolsets: YAML files of typed, parameterised PromQL and LogQL queries.

Parameters are validated by type and substituted only in safe forms: strings and enums become
complete PromQL string literals (``promql.quote``), so a value cannot leave its label matcher;
durations must match a duration regex; integers are parsed. LogQL tools are structured (stream
matchers and line filters whose values are whole parameters), and become a typed ``LogQuery``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.domain.errors import InvalidInput
from bot.ports.logs import FilterOp, LogQuery, MatchOp
from bot.ports.promql import quote

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
DURATION = re.compile(r"^[1-9][0-9]{0,4}(ms|s|m|h|d|w)$")
_DEFAULT_STRING = r"[A-Za-z0-9_.:/-]{1,253}"


class Param(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: Literal["string", "int", "duration", "enum"]
    description: str = ""
    required: bool = True
    default: str | int | None = None
    pattern: str | None = None  # strings: full-match regex (default: Kubernetes-like names)
    values: list[str] = Field(default_factory=list)  # enums
    min: int | None = None
    max: int | None = None
    # How a string or enum appears in PromQL: a string literal, a literal RE2 regex of it, or
    # (enums only, whose values the YAML author wrote) the bare value, e.g. a function name.
    render: Literal["literal", "regex", "pods_of", "raw"] = "literal"

    @model_validator(mode="after")
    def _check(self) -> Param:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum parameter needs 'values'")
        if self.render == "raw" and (
            self.type != "enum" or not all(re.fullmatch(r"[A-Za-z0-9_:.]+", v) for v in self.values)
        ):
            raise ValueError("render: raw is allowed only for enums of plain words")
        if self.pattern is not None:
            re.compile(self.pattern)
        return self

    def json_schema(self) -> dict[str, Any]:
        """What the model sees: type and meaning only. Patterns and bounds are enforced by
        ``validate_value``, not spent as prompt tokens."""
        schema: dict[str, Any] = {"type": "integer" if self.type == "int" else "string"}
        if self.type == "enum":
            schema["enum"] = self.values
        description = self.description + (" (e.g. 30m, 1h)" if self.type == "duration" else "")
        if description:
            schema["description"] = description
        return schema

    def validate_value(self, raw: Any) -> str | int:
        """The checked value, or ValueError saying what is wrong."""
        if self.type == "int":
            if isinstance(raw, bool) or not re.fullmatch(r"-?[0-9]{1,9}", str(raw).strip()):
                raise ValueError(f"{self.name} must be an integer")
            n = int(str(raw).strip())
            if (self.min is not None and n < self.min) or (self.max is not None and n > self.max):
                raise ValueError(f"{self.name} must be within [{self.min}, {self.max}]")
            return n
        text = str(raw)
        if self.type == "duration" and not DURATION.match(text):
            raise ValueError(f"{self.name} must be a duration like 5m or 1h")
        if self.type == "enum" and text not in self.values:
            raise ValueError(f"{self.name} must be one of {', '.join(self.values)}")
        if self.type == "string" and not re.fullmatch(self.pattern or _DEFAULT_STRING, text):
            raise ValueError(f"{self.name} does not match {self.pattern or _DEFAULT_STRING}")
        return text

    def promql(self, value: str | int) -> str:
        if self.type in ("int", "duration") or self.render == "raw":
            return str(value)
        text = str(value)
        if self.render == "regex":
            return quote(re.escape(text))
        if self.render == "pods_of":  # a Deployment's pods: <name>-<replicaset hash>-<pod hash>
            return quote(re.escape(text) + "-[a-z0-9]{6,10}-[a-z0-9]{5}|" + re.escape(text) + "-[0-9]+")
        return quote(text)


class LogQLSpec(BaseModel):
    selector: dict[str, str]  # label -> literal value or exactly "{{param}}"
    match: MatchOp = "="
    filters: list[tuple[FilterOp, str]] = Field(default_factory=list)


class ToolSpec(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{2,48}$")
    description: str = Field(min_length=10, max_length=400)
    params: list[Param] = Field(default_factory=list)
    promql: str | None = None
    logql: LogQLSpec | None = None
    lookback: str = Field(default="1h", pattern=DURATION.pattern)
    instant: bool = False

    @model_validator(mode="after")
    def _check(self) -> ToolSpec:
        if (self.promql is None) == (self.logql is None):
            raise ValueError("a tool needs exactly one of 'promql' or 'logql'")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError("parameter names must be unique")
        used = set(_PLACEHOLDER.findall(self.promql or ""))
        if self.logql:
            for value in [*self.logql.selector.values(), *(v for _, v in self.logql.filters)]:
                found = _PLACEHOLDER.findall(value)
                if found and not _PLACEHOLDER.fullmatch(value):
                    raise ValueError(f"LogQL value {value!r} must be a literal or exactly one {{{{param}}}}")
                used |= set(found)
        if undeclared := used - set(names):
            raise ValueError(f"template uses undeclared parameters: {', '.join(sorted(undeclared))}")
        return self

    def args_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.params},
            "required": [p.name for p in self.params if p.required and p.default is None],
        }

    def bind(self, args: dict[str, Any]) -> dict[str, str | int]:
        """Validated arguments (defaults filled in); ValueError on any bad or unknown argument."""
        if unknown := set(args) - {p.name for p in self.params}:
            raise ValueError(f"unknown arguments: {', '.join(sorted(unknown))}")
        out: dict[str, str | int] = {}
        for p in self.params:
            raw = args.get(p.name, p.default)
            if raw is None:
                if p.required:
                    raise ValueError(f"missing argument {p.name}")
                continue
            out[p.name] = p.validate_value(raw)
        return out

    def render_promql(self, args: dict[str, Any]) -> str:
        bound = self.bind(args)
        params = {p.name: p for p in self.params}
        return _PLACEHOLDER.sub(lambda m: params[m.group(1)].promql(bound[m.group(1)]), self.promql or "")

    def render_logql(self, args: dict[str, Any]) -> LogQuery:
        assert self.logql is not None
        bound = self.bind(args)

        def value(v: str) -> str:
            m = _PLACEHOLDER.fullmatch(v)
            return str(bound[m.group(1)]) if m else v

        return LogQuery(
            matchers=tuple((label, self.logql.match, value(v)) for label, v in self.logql.selector.items()),
            filters=tuple((op, value(v)) for op, v in self.logql.filters),
        )


class Toolset(BaseModel):
    name: str
    description: str = ""
    tools: list[ToolSpec] = Field(min_length=1)


class ToolsetFile(BaseModel):
    toolsets: list[Toolset] = Field(min_length=1)


def _describe(exc: ValidationError, data: Any) -> str:
    problems = []
    for err in exc.errors()[:5]:
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        try:  # name the tool, not just its index
            if loc[:1] == ["toolsets"] and "tools" in loc:
                ts = data["toolsets"][loc[1]]
                tool = ts["tools"][loc[loc.index("tools") + 1]]
                where = f"toolset {ts.get('name')!r}, tool {tool.get('name')!r}: " + ".".join(
                    str(p) for p in loc[loc.index("tools") + 2 :]
                )
        except (KeyError, IndexError, TypeError):
            pass
        problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)


def parse_toolset_file(text: str, origin: str) -> list[Toolset]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{origin}: not valid YAML: {exc}") from None
    try:
        return ToolsetFile.model_validate(data).toolsets
    except ValidationError as exc:
        raise InvalidInput(f"{origin}: invalid toolset: {_describe(exc, data)}") from None


def load_toolsets(user_dir: str | Path | None = None) -> dict[str, ToolSpec]:
    """Built-in toolsets (package ``bot.toolsets``) plus ``*.yaml`` in ``user_dir``; a user tool
    with a built-in's name replaces it."""
    sources: list[tuple[str, str]] = []
    for entry in sorted(resources.files("bot.toolsets").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            sources.append((f"bot.toolsets/{entry.name}", entry.read_text(encoding="utf-8")))
    if user_dir:
        directory = Path(user_dir)
        if not directory.is_dir():
            raise InvalidInput(f"toolsets_dir {directory} is not a directory")
        sources += [(str(p), p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.yaml"))]
    tools: dict[str, ToolSpec] = {}
    for origin, text in sources:
        for ts in parse_toolset_file(text, origin):
            for tool in ts.tools:
                tools[tool.name] = tool
    return tools
