"""The outbox: every outgoing message is a row first, unique on its idempotency key.

Public interface (the growth loops build on it):

    from hub.playbooks.outbox import OutgoingMessage, enqueue, idempotency_key

    enqueue(session, OutgoingMessage(channel="email", account_id=1, contact_id=7,
                                     playbook_key="referral_invite", step_key="invite",
                                     occurrence="2026-Q3", template="referral_invite",
                                     payload={"code": "ABC"}))

``enqueue`` inserts rows that are not there yet and silently keeps the ones that are
(INSERT ... ON CONFLICT DO NOTHING on ``idempotency_key``), so a retried job never queues a
message twice. Delivery happens later in ``hub.playbooks.dispatch``; a message is delivered at
most once (see that module for the claim protocol). ``status`` may be ``dry_run`` (recorded,
never sent) or ``suppressed`` (a guard stopped it; ``reason`` says which).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.audit import record
from hub.db import utcnow
from hub.models import OutboxMessage

MAX_KEY = 255


def idempotency_key(
    playbook_key: str | None,
    step_key: str | None,
    account_id: int | None,
    contact_id: int | None,
    occurrence: int | str,
) -> str:
    """The key of one message: (playbook, step, account, contact, occurrence)."""
    key = (
        f"{playbook_key or '-'}:{step_key or '-'}:a{account_id or '-'}"
        f":c{contact_id or '-'}:o{occurrence}"
    )
    if len(key) > MAX_KEY:  # keep it unique and within the column
        key = key[:200] + ":" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return key


@dataclass
class OutgoingMessage:
    """A message to queue. ``template`` or ``subject``/``body`` say what to send."""

    channel: str
    account_id: int | None
    contact_id: int | None = None
    playbook_key: str | None = None
    step_key: str | None = None
    occurrence: int | str = 1
    template: str | None = None
    subject: str | None = None
    body: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    due_at: datetime | None = None
    enrolment_id: int | None = None
    status: str = "pending"  # pending, dry_run, suppressed
    reason: str | None = None  # why it is suppressed or dry-run
    key: str | None = None  # explicit idempotency key; default from the five parts

    @property
    def idempotency_key(self) -> str:
        return self.key or idempotency_key(
            self.playbook_key, self.step_key, self.account_id, self.contact_id, self.occurrence
        )

    def row(self, now: datetime) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "channel": self.channel,
            "account_id": self.account_id,
            "contact_id": self.contact_id,
            "enrolment_id": self.enrolment_id,
            "playbook_key": self.playbook_key,
            "step_key": self.step_key,
            "template": self.template,
            "subject": self.subject,
            "body": self.body,
            "payload": self.payload,
            "status": self.status,
            "attempts": 0,
            "last_error": self.reason,
            "due_at": self.due_at or now,
            "created_at": now,
        }


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    table = OutboxMessage.__table__
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"the outbox needs PostgreSQL or SQLite, not {dialect}")


def enqueue_many(
    session: Session,
    messages: list[OutgoingMessage],
    now: datetime | None = None,
    returning: bool = True,
) -> dict[str, int]:
    """Queue ``messages``; answer {idempotency_key: id} for the rows newly inserted (or {}
    without ``returning``, the fast path for large batches)."""
    if not messages:
        return {}
    now = now or utcnow()
    rows = [m.row(now) for m in messages]
    stmt = _insert(session).on_conflict_do_nothing(index_elements=["idempotency_key"])
    connection = session.connection()
    if not returning:
        for start in range(0, len(rows), 1000):
            connection.execute(stmt, rows[start : start + 1000])
        return {}
    stmt = stmt.returning(OutboxMessage.__table__.c.id, OutboxMessage.__table__.c.idempotency_key)
    inserted: dict[str, int] = {}
    for row in rows:
        for ident, key in connection.execute(stmt, row):
            inserted[key] = ident
    return inserted


def enqueue(session: Session, message: OutgoingMessage, now: datetime | None = None) -> int:
    """Queue one message; answer its row id (the existing row's when already queued)."""
    inserted = enqueue_many(session, [message], now)
    if inserted:
        return next(iter(inserted.values()))
    return session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == message.idempotency_key)
    )


RESENDABLE = ("failed", "suppressed", "sent", "dry_run")


def resend(session: Session, message: OutboxMessage, actor: str, now: datetime | None = None):
    """Put a message back in the queue (an admin's decision, audited)."""
    if message.status not in RESENDABLE:
        raise ValueError(f"a {message.status} message cannot be re-sent")
    previous = message.status
    message.status = "pending"
    message.due_at = now or utcnow()
    message.claim_token = None
    message.claimed_at = None
    message.attempts = 0
    message.last_error = None
    record(session, actor, "outbox.resend", f"outbox:{message.id}", previous=previous)
    return message
