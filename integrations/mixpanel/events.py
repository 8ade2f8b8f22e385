"""From one line of a Mixpanel export to what the hub stores: key, account, properties.

The export's documented line format is one JSON object per line::

    {"event": "Signed up", "properties": {"time": 1602611311, "distinct_id": "u-1",
     "$insert_id": "ABCDE", "mp_processing_time_ms": 1602611311342, ...}}

Mixpanel deduplicates on (event, time, distinct_id, $insert_id) and says raw exports are
*not* deduplicated, so the hub derives a deterministic ``source_event_id`` from exactly that
key: the same event read twice (a re-run, an overlap, a backfill) gets the same id and the
``(source, source_event_id)`` unique constraint drops the second copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from hub.models import Account, Contact

COLUMN_PROPERTIES = frozenset({"time", "distinct_id", "$insert_id"})
EMAIL_PROPERTIES = ("$email", "email")


def epoch_seconds(raw: float | int | str) -> float:
    """Mixpanel ``time`` as epoch seconds (exports give seconds; ms when asked for)."""
    value = float(raw)
    return value / 1000.0 if value > 1e11 else value


def source_event_id(
    name: str,
    raw_time: object,
    distinct_id: str,
    insert_id: str | None,
    properties: dict,
    epoch: float | None = None,
) -> str:
    """Deterministic id from Mixpanel's dedupe key, prefixed by the epoch second.

    The time prefix keeps inserts into the unique index nearly sequential (exports come
    roughly in time order). Events without ``$insert_id`` (which Mixpanel never dedupes)
    are keyed on their whole property set, so only identical copies collapse.
    """
    if insert_id:
        tail = insert_id
    else:
        tail = (
            "~"
            + hashlib.blake2b(
                orjson.dumps(properties, option=orjson.OPT_SORT_KEYS), digest_size=10
            ).hexdigest()
        )
    digest = hashlib.blake2b(
        f"{name}\x1f{raw_time}\x1f{distinct_id}\x1f{tail}".encode(), digest_size=10
    ).hexdigest()
    seconds = int(epoch_seconds(raw_time) if epoch is None else epoch)
    return f"{seconds:010d}-{digest}"


def stored_properties(properties: dict, keep: tuple[str, ...] | None) -> dict:
    """What is kept of an event's properties: the ``keep`` list, or every custom property."""
    if keep is not None:
        return {k: properties[k] for k in keep if k in properties}
    return {k: v for k, v in properties.items() if _custom(k)}


def _custom(key: str) -> bool:
    return key not in COLUMN_PROPERTIES and key[:1] != "$" and not key.startswith("mp_")


class PropertySelector:
    """``stored_properties`` with the decision cached per key layout.

    Events of one source share a handful of property layouts, so the kept keys are computed
    once per layout (a bounded cache) instead of testing every key of every event.
    """

    def __init__(self, keep: tuple[str, ...] | None = None, max_layouts: int = 4096) -> None:
        self.keep = keep
        self.max_layouts = max_layouts
        self._layouts: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __call__(self, properties: dict) -> dict:
        layout = tuple(properties)
        kept = self._layouts.get(layout)
        if kept is None:
            if len(self._layouts) >= self.max_layouts:
                self._layouts.clear()
            if self.keep is not None:
                kept = tuple(k for k in self.keep if k in properties)
            else:
                kept = tuple(k for k in layout if _custom(k))
            self._layouts[layout] = kept
        return {k: properties[k] for k in kept}


@dataclass
class AccountMapper:
    """Maps an event to (account_id, contact_id): distinct_id, then email, then a property."""

    by_distinct_id: dict[str, tuple[int, int]]
    by_email: dict[str, tuple[int, int]]
    by_account_value: dict[str, int]
    account_property: str

    @classmethod
    def load(cls, conn: Connection, account_property: str, account_field: str) -> AccountMapper:
        by_distinct: dict[str, tuple[int, int]] = {}
        by_email: dict[str, tuple[int, int]] = {}
        rows = conn.execute(
            select(Contact.id, Contact.account_id, Contact.mixpanel_distinct_id, Contact.email)
            .where(Contact.deleted_at.is_(None))
            .order_by(Contact.id)
        )
        for contact_id, account_id, distinct_id, email in rows:
            if distinct_id:
                by_distinct.setdefault(distinct_id, (account_id, contact_id))
            if email:
                by_email.setdefault(email.strip().lower(), (account_id, contact_id))
        column = getattr(Account, account_field)
        by_value = {
            str(value): account_id
            for account_id, value in conn.execute(
                select(Account.id, column).where(Account.deleted_at.is_(None), column.is_not(None))
            )
        }
        return cls(by_distinct, by_email, by_value, account_property)

    def resolve(self, distinct_id: str, properties: dict) -> tuple[int | None, int | None]:
        found = self.by_distinct_id.get(distinct_id)
        if found is not None:
            return found
        for key in EMAIL_PROPERTIES:
            email = properties.get(key)
            if isinstance(email, str) and (found := self.by_email.get(email.strip().lower())):
                return found
        if "@" in distinct_id and (found := self.by_email.get(distinct_id.strip().lower())):
            return found
        value = properties.get(self.account_property)
        if value is not None:
            account_id = self.by_account_value.get(str(value))
            if account_id is not None:
                return account_id, None
        return None, None
