"""The request path's only writes: one INSERT into the inbox, one enqueue.

The row is committed before its job is enqueued, so a job never looks for a row that is not
there. When Redis is unavailable the delivery is still accepted (it is durable in the
database) and the sweeper enqueues it later; when the database is unavailable the delivery is
refused with a 503 so the sender retries. A duplicate (same source and external id) inserts
nothing and enqueues nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from hub.db import db, utcnow
from hub.ingest.inbox import enqueue as enqueue_process
from hub.ingest.inbox import new_job_id
from hub.models import InboxEvent
from webhooks.writer import exclusive

log = logging.getLogger(__name__)

KEPT_HEADERS = (
    "Content-Type",
    "User-Agent",
    "Stripe-Signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "SOAPAction",
    "X-Request-Id",
    "X-Forwarded-For",
)
"""Headers stored with a delivery (never Authorization or cookies)."""
_KEPT = {name.lower(): name for name in KEPT_HEADERS}


@dataclass(frozen=True)
class Stored:
    inbox_id: int | None  # None for a duplicate
    duplicate: bool
    enqueued: bool


_statements: dict[str, Insert] = {}


def _insert(engine: Engine) -> Insert:
    """INSERT ... ON CONFLICT (source, external_id) DO NOTHING RETURNING id, built once per
    dialect so the request path pays no statement construction or cache-key cost."""
    name = engine.dialect.name
    if name not in _statements:
        make = postgresql.insert if name == "postgresql" else sqlite.insert
        table = InboxEvent.__table__
        _statements[name] = (
            make(table)
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
            .returning(table.c.id)
        )
    return _statements[name]


def store(
    source: str, external_id: str, event_type: str | None, headers: Any, body: bytes
) -> Stored:
    """Insert the delivery unless it is a duplicate, then enqueue its processing."""
    job_id = new_job_id()
    kept = {_KEPT[k.lower()]: v for k, v in headers.items() if k.lower() in _KEPT}
    values = {
        "source": source,
        "external_id": external_id[:255],
        "event_type": event_type[:128] if event_type else None,
        "headers": kept,
        "body": body,
        "status": "pending",
        "attempts": 0,
        "received_at": utcnow(),
        "job_id": job_id,
    }
    engine = db.engine
    with exclusive(engine), engine.begin() as conn:
        inbox_id = conn.execute(_insert(engine), values).scalar()
    if inbox_id is None:
        return Stored(None, duplicate=True, enqueued=False)
    return Stored(inbox_id, duplicate=False, enqueued=enqueue(inbox_id, job_id))


def enqueue(inbox_id: int, job_id: str) -> bool:
    """Enqueue ``jobs.inbox.process``; a Redis failure leaves the row to the sweeper."""
    try:
        enqueue_process(inbox_id, job_id)
    except RedisError:
        log.warning("inbox %s stored but not enqueued (Redis); the sweeper will", inbox_id)
        return False
    return True
