"""Prompt templates: shipped in the package ``bot.prompts``; a directory may override them.

Templates use ``$name`` placeholders (``string.Template``), so braces in PromQL or JSON stay
literal.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template

from bot.domain.errors import InvalidInput

PROMPT_NAMES = ("system", "explain_alert", "thread_answer", "summarise_incident")


def load_prompt(name: str, override_dir: str | Path | None = None) -> str:
    if name not in PROMPT_NAMES:
        raise InvalidInput(f"unknown prompt {name!r}; known prompts: {', '.join(PROMPT_NAMES)}")
    if override_dir:
        candidate = Path(override_dir) / f"{name}.md"
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return resources.files("bot.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")


def render_prompt(name: str, override_dir: str | Path | None = None, **values: str) -> str:
    return Template(load_prompt(name, override_dir)).safe_substitute(values).strip()
