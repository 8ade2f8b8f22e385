"""Render admin-editable message text (Jinja2 in a sandbox: no attribute tricks)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


@lru_cache(maxsize=512)
def _template(text: str):
    return _env().from_string(text)


def render(text: str, context: dict[str, Any]) -> str:
    return _template(text).render(**context)


def check(text: str) -> None:
    """Raise ``jinja2.TemplateSyntaxError`` when ``text`` does not parse."""
    _env().parse(text)
