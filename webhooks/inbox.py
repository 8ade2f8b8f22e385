"""The request path's only writes: one INSERT into the inbox, one enqueue.

Deliveries that arrive at the same time in one process share the transaction and one
``jobs.inbox.process`` job (``GroupCommit``): one Redis round trip, and the job builds and
serialises once for the batch, not per delivery. The rows are committed before their job is
enqueued, so a job never looks for a row that is not there. When Redis is unavailable the
delivery is still accepted (it is durable in the database) and the sweeper enqueues it later;
when the database is unavailable the delivery is refused with a 503 so the sender retries. A
duplicate (same source and external id) inserts nothing and enqueues nothing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from redis.exceptions import RedisError
from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from hub.db import db, utcnow
from hub.ingest.inbox import enqueue as enqueue_process
from hub.ingest.inbox import new_job_id
from hub.models import InboxEvent
from webhooks.writer import GroupCommit, exclusive

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


@dataclass(frozen=True)
class Stored:
    inbox_id: int | None  # None for a duplicate
    duplicate: bool
    enqueued: bool


_statements: dict[str, Insert] = {}
_groups: WeakKeyDictionary[Engine, GroupCommit[dict[str, Any], Stored]] = WeakKeyDictionary()
_groups_lock = threading.Lock()


def _insert(engine: Engine) -> Insert:
    """INSERT ... ON CONFLICT (source, external_id) DO NOTHING RETURNING the key, built once
    per dialect so the request path pays no statement construction or cache-key cost."""
    name = engine.dialect.name
    if name not in _statements:
        make = postgresql.insert if name == "postgresql" else sqlite.insert
        table = InboxEvent.__table__
        _statements[name] = (
            make(table)
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
            .returning(table.c.id, table.c.source, table.c.external_id)
        )
    return _statements[name]


def store(
    source: str, external_id: str, event_type: str | None, headers: Any, body: bytes
) -> Stored:
    """Insert the delivery unless it is a duplicate, then enqueue its processing; returns once
    the row is committed (together with whatever other deliveries arrived at the same time)."""
    kept = {name: value for name in KEPT_HEADERS if (value := headers.get(name)) is not None}
    values = {
        "source": source,
        "external_id": external_id[:255],
        "event_type": event_type[:128] if event_type else None,
        "headers": kept,
        "body": body,
        "status": "pending",
        "attempts": 0,
        "received_at": utcnow(),
    }
    return _group(db.engine).submit(values)


def _group(engine: Engine) -> GroupCommit[dict[str, Any], Stored]:
    group = _groups.get(engine)
    if group is None:
        with _groups_lock:
            group = _groups.setdefault(engine, GroupCommit(partial(_write_batch, engine)))
    return group


def _write_batch(engine: Engine, batch: list[dict[str, Any]]) -> list[Stored]:
    """One transaction for the batch, then one job for the rows it inserted."""
    job_id = new_job_id()
    keys = [(v["source"], v["external_id"]) for v in batch]
    first: dict[tuple[str, str], int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)  # a repeat within the batch is a duplicate of the first
    with exclusive(engine), engine.begin() as conn:
        rows = conn.execute(
            _insert(engine), [batch[i] | {"job_id": job_id} for i in first.values()]
        )
        ids = {(r.source, r.external_id): r.id for r in rows}
    new = {i for key, i in first.items() if key in ids}
    enqueued = enqueue([ids[keys[i]] for i in sorted(new)], job_id)
    return [
        Stored(ids[keys[i]], duplicate=False, enqueued=enqueued)
        if i in new
        else Stored(None, duplicate=True, enqueued=False)
        for i in range(len(batch))
    ]


def enqueue(inbox_ids: list[int], job_id: str) -> bool:
    """Enqueue ``jobs.inbox.process(*inbox_ids)``; a Redis failure leaves the rows to the
    sweeper."""
    if not inbox_ids:
        return True
    try:
        enqueue_process(inbox_ids, job_id)
    except RedisError:
        log.warning("inbox %s stored but not enqueued (Redis); the sweeper will", inbox_ids)
        return False
    return True
