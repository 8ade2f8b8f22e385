"""The connector framework: a self-describing class per type (Redash, Singer SDK, Airbyte CDK).

A connector type declares:

- ``type`` (stable id), ``name``, ``description``;
- ``spec``: a marshmallow schema of its settings; secret fields carry
  ``metadata={"secret": True}`` and are stored encrypted, never returned by the API;
- ``requires``: optional modules it needs; ``enabled()`` says whether they import, and why not;
- ``primary_key`` and ``cursor_field`` of the records it emits (declarative; the cursor logic
  lives here in ``sync``, not in each connector);
- ``check()`` (test the connection, return facts) and ``read(since)`` (yield ``Sample`` and
  ``EventRecord`` items newer than ``since``).

Errors come out classified (``integrations.errors``): fatal, retriable, skippable.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, fields, missing, validate


class BaseSpec(Schema):
    """Settings every connector has: network safety, timeouts, size limits."""

    class Meta:
        unknown = RAISE

    allow_private_network = fields.Bool(
        load_default=False,
        metadata={
            "description": "allow private, loopback and link-local targets (a LAN rig, a test)"
        },
    )
    timeout_s = fields.Float(
        load_default=10.0,
        validate=validate.Range(min=0.1, max=120),
        metadata={"description": "connect and read timeout per request, seconds"},
    )
    max_response_bytes = fields.Int(
        load_default=2 * 1024 * 1024,
        validate=validate.Range(min=1024, max=64 * 1024 * 1024),
        metadata={"description": "larger answers are refused"},
    )
    account_field = fields.Str(
        load_default="id",
        validate=validate.OneOf(
            ["id", "salesforce_id", "stripe_customer_id", "mixpanel_group_key", "domain"]
        ),
        metadata={"description": "for a shared connector: which account field records name"},
    )


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement (becomes a ``metric_samples`` row once validated)."""

    metric: str
    value: Any
    measured_at: datetime | None
    subject: str = ""
    account_key: str | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Something that happened (becomes an ``events`` row, unique on ``key``)."""

    name: str
    occurred_at: datetime
    key: str
    properties: dict[str, Any] = field(default_factory=dict)
    account_key: str | None = None


Record = Sample | EventRecord


@dataclass
class Context:
    """What a run knows besides the settings: the time, the CA bundle, prior state."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    ca_bundle: str = ""
    state: dict[str, Any] = field(default_factory=dict)


def secret_fields(spec: type[Schema]) -> frozenset[str]:
    """Names of the fields marked ``metadata={"secret": True}``."""
    return frozenset(
        name for name, f in spec().fields.items() if (f.metadata or {}).get("secret") is True
    )


class Connector(ABC):
    type: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    spec: ClassVar[type[Schema]] = BaseSpec
    requires: ClassVar[tuple[str, ...]] = ()
    primary_key: ClassVar[tuple[str, ...]] = ("metric", "subject", "measured_at")
    cursor_field: ClassVar[str] = "measured_at"

    def __init__(self, settings: dict[str, Any], context: Context | None = None) -> None:
        """``settings`` are already validated by ``spec`` (secrets included)."""
        self.settings = settings
        self.context = context or Context()
        self.state: dict[str, Any] = dict(self.context.state)

    @classmethod
    def enabled(cls) -> tuple[bool, str | None]:
        """Whether the type can run here; if not, the reason (a missing optional module)."""
        for module in cls.requires:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                return False, f"needs the {module!r} package: {exc}"
        return True, None

    @classmethod
    def secret_keys(cls) -> frozenset[str]:
        return secret_fields(cls.spec)

    @property
    def now(self) -> datetime:
        return self.context.now

    @abstractmethod
    def check(self) -> dict[str, Any]:
        """Test the connection; return facts to show the admin; raise a classified error."""

    @abstractmethod
    def read(self, since: datetime | None) -> Iterator[Record]:
        """Yield records newer than ``since`` (the stored cursor), oldest first if possible."""

    def sync(self) -> Iterator[Record]:
        """``read`` from the stored cursor, drop what the cursor says was seen, advance it.

        Records carrying ``cursor_field`` at or before the cursor are dropped; records without
        it (events) pass, their unique key keeps them from doubling. ``self.state["cursor"]``
        moves only when the read completes; the caller persists ``self.state`` after a
        successful run.
        """
        raw = self.state.get("cursor")
        since = datetime.fromisoformat(raw) if raw else None
        newest = since
        for record in self.read(since):
            if not hasattr(record, self.cursor_field):
                yield record
                continue
            mark = getattr(record, self.cursor_field)
            if mark is None:  # no usable time: validation rejects and counts it
                yield record
                continue
            if since is not None and mark <= since:
                continue
            if newest is None or mark > newest:
                newest = mark
            yield record
        if newest is not None:
            self.state["cursor"] = newest.isoformat()


def describe(cls: type[Connector]) -> dict[str, Any]:
    """A type as the API shows it: settings schema with secrets marked, enabled or why not."""
    enabled, reason = cls.enabled()
    return {
        "type": cls.type,
        "name": cls.name,
        "description": cls.description,
        "enabled": enabled,
        "disabled_reason": reason,
        "primary_key": list(cls.primary_key),
        "cursor_field": cls.cursor_field,
        "settings": describe_schema(cls.spec),
    }


_FIELD_TYPES = {
    fields.Bool: "boolean",
    fields.Int: "integer",
    fields.Float: "number",
    fields.Url: "string",
    fields.Str: "string",
    fields.List: "array",
    fields.Dict: "object",
    fields.Nested: "object",
}


def describe_schema(spec: type[Schema]) -> dict[str, Any]:
    """Field name -> {type, required, secret, default, description, enum}."""
    out: dict[str, Any] = {}
    for name, f in spec().fields.items():
        kind = next((t for cls, t in _FIELD_TYPES.items() if isinstance(f, cls)), "string")
        doc: dict[str, Any] = {
            "type": kind,
            "required": bool(f.required),
            "secret": bool((f.metadata or {}).get("secret")),
        }
        default = f.load_default
        if default not in (None, missing) and not callable(default) and not doc["secret"]:
            doc["default"] = default
        if description := (f.metadata or {}).get("description"):
            doc["description"] = description
        for v in f.validators:
            if isinstance(v, validate.OneOf):
                doc["enum"] = list(v.choices)
        if isinstance(f, fields.Nested):
            doc["fields"] = describe_schema(type(f.schema))
            doc["many"] = bool(f.many)
        if isinstance(f, fields.List) and isinstance(f.inner, fields.Nested):
            doc["items"] = describe_schema(type(f.inner.schema))
        out[name] = doc
    return out
