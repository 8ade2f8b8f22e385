"""Message content: Jinja2 templates on disk and inline strings from playbook YAML.

File templates live in ``templates/<channel>/``: ``<name>.txt.j2`` (``subject`` and ``body``
blocks) and optionally ``<name>.html.j2`` (``body`` block, HTML-escaped). A segment variant
``<name>.<segment>.txt.j2`` wins over the generic file, which gives per-segment content.
Inline strings (a playbook step's ``subject``/``text``) are rendered in a sandbox, since
admins edit them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from integrations.errors import FatalError

TEMPLATE_DIR = Path(__file__).parent / "templates"


@lru_cache(maxsize=4)
def environment(extra_dir: str | None = None) -> SandboxedEnvironment:
    loaders = [FileSystemLoader(str(TEMPLATE_DIR))]
    if extra_dir:
        loaders.insert(0, FileSystemLoader(extra_dir))
    return SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


@lru_cache(maxsize=1)
def string_environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def candidates(channel: str, name: str, segment: str | None, kind: str) -> list[str]:
    names = [f"{channel}/{name}.{segment}.{kind}.j2"] if segment else []
    return [*names, f"{channel}/{name}.{kind}.j2"]


def exists(channel: str, name: str, segment: str | None = None, kind: str = "txt") -> bool:
    env = environment()
    for candidate in candidates(channel, name, segment, kind):
        try:
            env.get_template(candidate)
            return True
        except TemplateNotFound:
            continue
    return False


def render_blocks(
    channel: str, name: str, segment: str | None, kind: str, context: dict[str, Any]
) -> dict[str, str] | None:
    """Every block of the best template for (name, segment, kind), or None if none exists."""
    env = environment()
    try:
        template = env.select_template(candidates(channel, name, segment, kind))
    except TemplateNotFound:
        return None
    try:
        ctx = template.new_context(dict(context))
        blocks = {key: "".join(fn(ctx)).strip() for key, fn in template.blocks.items()}
        blocks["_full"] = template.render(context).strip()
        return blocks
    except TemplateError as exc:
        raise FatalError(f"template {template.name} failed: {exc}") from exc


def render_string(source: str | None, context: dict[str, Any]) -> str | None:
    """Render an inline template string (None stays None)."""
    if source is None:
        return None
    try:
        return string_environment().from_string(source).render(context)
    except TemplateError as exc:
        raise FatalError(f"inline template failed: {exc}") from exc
