"""Which Salesforce Account fields feed which hub fields, and in which direction.

An admin configures a list of ``{"hub": ..., "salesforce": ..., "direction": ...}`` entries
(``field_map`` in the ``salesforce`` integration settings); each entry replaces the default
for its hub field. Directions: ``pull`` (Salesforce -> hub), ``push`` (hub -> Salesforce),
``both``, ``off``. The health and churn fields are push-only: Salesforce never overwrites a
score. A mapped Salesforce field that the org does not have is left out of the pull (with a
warning in the run's report) instead of failing the whole query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from hub.models.account import LIFECYCLE_STAGES, SEGMENTS, STATUSES

DIRECTIONS = ("pull", "push", "both", "off")

HEALTH_FIELDS: dict[str, str] = {
    "health_score": "Health_Score__c",
    "health_tier": "Health_Tier__c",
    "health_trend": "Health_Trend__c",
    "churn_risk": "Churn_Risk__c",
    "churn_risk_segment": "Churn_Risk_Segment__c",
    "health_reasons": "Health_Reasons__c",
    "last_scored": "Last_Scored__c",
}
"""The contract's custom fields on Account (hub name -> Salesforce API name)."""

SENT_WITH_CHANGE = frozenset({"last_scored"})
"""Fields sent alongside a change but never a change by themselves (a rescore that moves
nothing must not cost an API call)."""


class Skip(Exception):
    """A pulled value that cannot be used (kept as it was in the hub)."""


def _text(limit: int) -> Callable[[Any], str | None]:
    def convert(value: Any) -> str | None:
        if value is None or value == "":
            return None
        return str(value).strip()[:limit] or None

    return convert


def _domain(value: Any) -> str | None:
    if not value:
        return None
    text = str(value).strip().lower()
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.removeprefix("www.")
    return host[:255] or None


def _choice(allowed: tuple[str, ...]) -> Callable[[Any], str | None]:
    def convert(value: Any) -> str | None:
        if value is None or value == "":
            return None
        key = re.sub(r"[^a-z0-9]+", "_", str(value).strip().lower()).strip("_")
        if key not in allowed:
            raise Skip(f"{value!r} is not one of {', '.join(allowed)}")
        return key

    return convert


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise Skip(f"{value!r} is not a number") from exc


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise Skip(f"{value!r} is not a date") from exc


def _currency(value: Any) -> str | None:
    return str(value).strip().upper()[:3] if value else None


def _email(value: Any) -> str | None:
    return str(value).strip().lower()[:255] if value else None


PULL_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "name": _text(255),
    "domain": _domain,
    "segment": _choice(SEGMENTS),
    "plan": _text(64),
    "mrr": _number,
    "currency": _currency,
    "owner_salesforce_id": _text(18),
    "owner_email": _email,
    "renewal_date": _date,
    "signup_date": _date,
    "lifecycle_stage": _choice(LIFECYCLE_STAGES),
    "status": _choice(STATUSES),
    "timezone": _text(64),
    "stripe_customer_id": _text(64),
    "mixpanel_group_key": _text(255),
}
"""Hub Account fields a Salesforce field may feed, with the conversion of the pulled value."""

NOT_NULL = frozenset({"name", "segment", "mrr", "currency", "lifecycle_stage", "status"})
"""Hub fields that keep their value when Salesforce has none."""


def push_value(hub_field: str, value: Any) -> Any:
    """A hub value as Salesforce JSON wants it."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class FieldMapping:
    hub: str
    salesforce: str
    direction: str

    @property
    def pulls(self) -> bool:
        return self.direction in ("pull", "both")

    @property
    def pushes(self) -> bool:
        return self.direction in ("push", "both")

    def read(self, record: Mapping[str, Any]) -> Any:
        """The raw value of this field in a SOQL record (follows ``Owner.Email``)."""
        value: Any = record
        for part in self.salesforce.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value


DEFAULT_MAPPINGS: tuple[FieldMapping, ...] = (
    FieldMapping("name", "Name", "pull"),
    FieldMapping("domain", "Website", "pull"),
    FieldMapping("owner_salesforce_id", "OwnerId", "pull"),
    FieldMapping("owner_email", "Owner.Email", "pull"),
    FieldMapping("segment", "Segment__c", "pull"),
    FieldMapping("plan", "Plan__c", "pull"),
    FieldMapping("mrr", "MRR__c", "pull"),
    FieldMapping("renewal_date", "Renewal_Date__c", "pull"),
    *(FieldMapping(hub, sf, "push") for hub, sf in HEALTH_FIELDS.items()),
)


class MappingError(ValueError):
    """An admin's field map that cannot work."""


def validate_entry(hub: str, salesforce: str, direction: str) -> None:
    """Raise ``MappingError`` when one field-map entry is not usable."""
    if direction not in DIRECTIONS:
        raise MappingError(f"{hub}: direction must be one of {', '.join(DIRECTIONS)}")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?", salesforce or ""):
        raise MappingError(f"{hub}: {salesforce!r} is not a Salesforce field API name")
    if hub in HEALTH_FIELDS:
        if direction not in ("push", "off"):
            raise MappingError(f"{hub} is a score: it can only be pushed (or off)")
    elif hub not in PULL_CONVERTERS:
        known = ", ".join(sorted([*PULL_CONVERTERS, *HEALTH_FIELDS]))
        raise MappingError(f"unknown hub field {hub!r}; known: {known}")
    if "." in salesforce and direction in ("push", "both"):
        raise MappingError(f"{hub}: a relationship field ({salesforce}) cannot be written")


def build(entries: Iterable[Mapping[str, str]] | None) -> tuple[FieldMapping, ...]:
    """The defaults with the admin's entries applied (one entry per hub field wins)."""
    by_hub = {m.hub: m for m in DEFAULT_MAPPINGS}
    for entry in entries or ():
        hub, salesforce = entry["hub"], entry["salesforce"]
        direction = entry.get("direction", "pull")
        validate_entry(hub, salesforce, direction)
        by_hub[hub] = FieldMapping(hub, salesforce, direction)
    return tuple(m for m in by_hub.values() if m.direction != "off")


def pulled(mappings: Iterable[FieldMapping], available: set[str] | None) -> list[FieldMapping]:
    """The pull mappings whose Salesforce field the org has (all of them when unknown)."""
    out = []
    for m in mappings:
        if not m.pulls:
            continue
        root = m.salesforce.split(".")[0]
        # a relationship (Owner.Email) exists when its lookup field (OwnerId) does
        lookup = f"{root}Id" if "." in m.salesforce else root
        if available is None or lookup in available or root in available:
            out.append(m)
    return out


def pushed(mappings: Iterable[FieldMapping]) -> list[FieldMapping]:
    """Every push mapping (the score fields first, then mapped hub fields)."""
    return [m for m in mappings if m.pushes]
