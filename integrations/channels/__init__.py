"""Outgoing channels: one adapter per outside system behind one interface (``base.Channel``).

The registry lists every adapter type, enabled or not, with the reason when it is not
(a missing package, missing settings), like Redash's destinations:

    >>> from integrations.channels import channel_types, describe, build
    >>> sorted(channel_types())  # doctest: +SKIP
    ['email', 'inapp', 'sf_case', 'sf_task', 'slack', 'slack_rep', 'sms', 'webhook']

``build(name, settings, context)`` makes an adapter for one dispatch run. Nothing here sends
on its own: every message goes through the outbox (``hub.playbooks.outbox.enqueue``) so it is
delivered at most once per idempotency key. A new channel is a module defining a ``Channel``
subclass, added to ``CHANNEL_MODULES``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from integrations.channels.base import (
    CUSTOMER,
    TEAM,
    Channel,
    ChannelContext,
    Delivery,
    Envelope,
)

CHANNEL_MODULES = [
    "integrations.channels.email",
    "integrations.channels.sms",
    "integrations.channels.slack",
    "integrations.channels.salesforce",
    "integrations.channels.inapp",
    "integrations.channels.webhook",
]

__all__ = [
    "CHANNEL_MODULES",
    "CUSTOMER",
    "TEAM",
    "Channel",
    "ChannelContext",
    "Delivery",
    "Envelope",
    "build",
    "channel_types",
    "describe",
    "get",
]


def channel_types() -> dict[str, type[Channel]]:
    """Every registered adapter class by channel name."""
    found: dict[str, type[Channel]] = {}
    for module_name in CHANNEL_MODULES:
        module = import_module(module_name)
        for cls in getattr(module, "CHANNELS", ()):
            found[cls.name] = cls
    return found


def get(name: str) -> type[Channel]:
    """The adapter class for ``name``; KeyError when there is none."""
    types = channel_types()
    if name not in types:
        raise KeyError(f"unknown channel {name!r}; known: {', '.join(sorted(types))}")
    return types[name]


def status(cls: type[Channel], settings: dict[str, Any]) -> tuple[bool, str | None]:
    """(enabled, reason when not) for ``cls`` with its effective ``settings``."""
    reason = cls.missing_dependency() or cls.unconfigured(settings)
    return reason is None, reason


def describe(settings_of: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every channel with enabled/disabled and why; ``settings_of`` maps spec name to settings."""
    out = []
    for name, cls in sorted(channel_types().items()):
        enabled, reason = status(cls, settings_of.get(cls.spec or "", {}))
        out.append(
            {
                "name": name,
                "title": cls.title,
                "audience": cls.audience,
                "settings": cls.spec,
                "idempotent_delivery": cls.idempotent_delivery,
                "enabled": enabled,
                "reason": reason,
            }
        )
    return out


def build(name: str, settings: dict[str, Any], context: ChannelContext) -> Channel:
    """An adapter instance for one dispatch run."""
    return get(name)(settings, context)
