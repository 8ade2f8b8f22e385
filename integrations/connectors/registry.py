"""The connector types cshub knows, discovered from their modules (Redash style).

A type whose module cannot even be imported, or whose optional dependency is missing, is
still listed, disabled, with the reason: an admin sees why it cannot be used instead of
wondering where it went.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from integrations.connectors.base import Connector, describe

log = logging.getLogger(__name__)

TYPE_MODULES: dict[str, str] = {
    "cgminer": "integrations.connectors.cgminer:CgminerConnector",
    "pool": "integrations.connectors.pool:PoolConnector",
    "exchange": "integrations.connectors.exchange:ExchangeConnector",
    "http_json": "integrations.connectors.http_json:HttpJsonConnector",
}
"""type -> "module:Class"; a new connector type adds one line here."""


@dataclass(frozen=True)
class TypeInfo:
    type: str
    cls: type[Connector] | None
    enabled: bool
    reason: str | None

    def describe(self) -> dict[str, Any]:
        if self.cls is None:
            return {
                "type": self.type,
                "name": self.type,
                "description": "",
                "enabled": False,
                "disabled_reason": self.reason,
                "settings": {},
            }
        return describe(self.cls)


def _load(type_name: str, target: str) -> TypeInfo:
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(import_module(module_name), class_name)
    except ImportError as exc:
        log.warning("connector type %s unavailable: %s", type_name, exc)
        return TypeInfo(type_name, None, False, f"cannot import: {exc}")
    enabled, reason = cls.enabled()
    return TypeInfo(type_name, cls, enabled, reason)


def discover() -> dict[str, TypeInfo]:
    """Every registered type, importable or not."""
    return {name: _load(name, target) for name, target in TYPE_MODULES.items()}


def get(type_name: str) -> TypeInfo | None:
    """One type (only its module is imported)."""
    target = TYPE_MODULES.get(type_name)
    return None if target is None else _load(type_name, target)
