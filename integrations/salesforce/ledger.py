"""The push ledger: per account and field, the hash of the value Salesforce last accepted.

A value is sent only when its hash differs from the ledger's. A failed write keeps the old
hash (so the row is sent again next run) and records Salesforce's error code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.models import PushLedger

DESTINATION = "salesforce"
WRITE_CHUNK = 5000


def value_hash(value: Any) -> str:
    """A short stable hash of a pushed value (type-aware: 1 and "1" differ)."""
    raw = orjson.dumps([type(value).__name__, value], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(raw).hexdigest()[:32]


def load(session: Session, account_ids: Sequence[int]) -> dict[tuple[int, str], str]:
    """(account id, hub field) -> hash of the last accepted value, for some accounts."""
    rows = session.execute(
        select(PushLedger.account_id, PushLedger.field, PushLedger.value_hash).where(
            PushLedger.destination == DESTINATION, PushLedger.account_id.in_(account_ids)
        )
    )
    return {(a, f): h for a, f, h in rows}


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the hub runs on SQLite or PostgreSQL
        raise RuntimeError(f"unsupported database {dialect}")
    return insert(PushLedger.__table__)


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= WRITE_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def record_accepted(
    session: Session, rows: Iterable[tuple[int, str, str]], now: datetime | None = None
) -> int:
    """Salesforce has these values now: (account id, hub field, value hash)."""
    stamp = now or utcnow()
    stmt = _insert(session)
    stmt = stmt.on_conflict_do_update(
        index_elements=["destination", "account_id", "field"],
        set_={
            "value_hash": stmt.excluded.value_hash,
            "pushed_at": stmt.excluded.pushed_at,
            "last_error": None,
        },
    )
    count = 0
    params = (
        {
            "destination": DESTINATION,
            "account_id": a,
            "field": f,
            "value_hash": h,
            "pushed_at": stamp,
            "last_error": None,
        }
        for a, f, h in rows
    )
    for batch in _chunks(params):
        session.execute(stmt, batch)
        count += len(batch)
    return count


def record_rejected(
    session: Session, rows: Iterable[tuple[int, str, str]], now: datetime | None = None
) -> int:
    """Salesforce refused these writes: (account id, hub field, "CODE: message").

    The stored hash is kept (an empty one for a first write), so the next run sends again.
    """
    stamp = now or utcnow()
    stmt = _insert(session)
    stmt = stmt.on_conflict_do_update(
        index_elements=["destination", "account_id", "field"],
        set_={"last_error": stmt.excluded.last_error},
    )
    count = 0
    params = (
        {
            "destination": DESTINATION,
            "account_id": a,
            "field": f,
            "value_hash": "",
            "pushed_at": stamp,
            "last_error": error[:2000],
        }
        for a, f, error in rows
    )
    for batch in _chunks(params):
        session.execute(stmt, batch)
        count += len(batch)
    return count
