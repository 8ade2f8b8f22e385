"""Integration settings: stored per integration, secrets encrypted and write-only.

Each integration declares an ``IntegrationSpec`` (a marshmallow schema of its settings, which
keys are secret, how to read a first-start default from the environment, and optionally a
connection check). Stored settings win over the environment once an admin has saved them.
Reads mask secrets with ``PLACEHOLDER``; writing the placeholder back keeps the old secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from marshmallow import Schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import record
from hub.config import Config
from hub.crypto import PLACEHOLDER, mask_secrets
from hub.models import IntegrationSetting


@dataclass(frozen=True)
class IntegrationSpec:
    name: str
    schema: type[Schema]
    secret_keys: frozenset[str] = frozenset()
    from_config: Callable[[Config], dict[str, Any]] = lambda _config: {}
    check: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """Test the connection with the effective settings; return facts, raise on failure."""
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    on_save: Callable[[dict[str, Any], dict[str, Any], Config], dict[str, Any]] | None = None
    """Given the settings in force before and the secrets about to be stored, return the
    secrets to store (e.g. keep rotated-out secrets valid for a grace period)."""


SPEC_MODULES: list[str] = [
    "integrations.stripe.client",
    "webhooks.settings",
    "integrations.mixpanel.settings",
    "integrations.salesforce.settings",
    "integrations.channels.settings",
]
"""Modules that define ``SPEC``; a capability that adds an integration appends here."""

_specs: dict[str, IntegrationSpec] = {}


def register(spec: IntegrationSpec) -> IntegrationSpec:
    _specs[spec.name] = spec
    return spec


def specs() -> dict[str, IntegrationSpec]:
    for module in SPEC_MODULES:
        import_module(module)
    return dict(_specs)


def get_spec(name: str) -> IntegrationSpec | None:
    return specs().get(name)


def effective(session: Session, spec: IntegrationSpec, config: Config) -> dict[str, Any]:
    """The settings in force: stored ones if saved, else the environment's."""
    row = session.scalar(select(IntegrationSetting).where(IntegrationSetting.name == spec.name))
    if row is None:
        return {k: v for k, v in spec.from_config(config).items() if v not in (None, "")}
    return {**(row.settings or {}), **(row.secrets or {})}


def masked(values: dict[str, Any], spec: IntegrationSpec) -> dict[str, Any]:
    return mask_secrets(values, set(spec.secret_keys))


def save(
    session: Session, spec: IntegrationSpec, values: dict[str, Any], config: Config, actor: str
) -> IntegrationSetting:
    """Store validated ``values``; a secret given as PLACEHOLDER or omitted keeps its value."""
    current = effective(session, spec, config)
    row = session.scalar(select(IntegrationSetting).where(IntegrationSetting.name == spec.name))
    if row is None:
        row = IntegrationSetting(name=spec.name, settings={}, secrets={})
        session.add(row)
    secrets = {}
    for key in spec.secret_keys:
        given = values.get(key)
        if given in (None, PLACEHOLDER):
            if current.get(key):
                secrets[key] = current[key]
        else:
            secrets[key] = given
    if spec.on_save is not None:
        secrets = spec.on_save(current, secrets, config)
    row.settings = {k: v for k, v in values.items() if k not in spec.secret_keys}
    row.secrets = secrets
    record(session, actor, "integration.update", f"integration:{spec.name}", fields=sorted(values))
    return row
