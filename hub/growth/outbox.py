"""Queue a message on a channel through the playbook engine's outbox, once per key.

The outbox (``hub.playbooks.outbox``) inserts a row unless its idempotency key exists; the
dispatcher applies the customer guards (quiet hours, caps, unsubscribe) and delivers it.
Growth messages carry their text inline (``subject``/``body``; ``template`` stays empty so
channels use their inline layout) and name their kind in ``step_key`` under the playbook key
``growth``. Channels render ``subject`` and ``body`` as templates, so text written here
(names, customer comments) is passed as a literal, never as template code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.models import OutboxMessage
from hub.playbooks.outbox import OutgoingMessage, enqueue_many

_END = "{% endraw %}"


def literal(text: str | None) -> str | None:
    """``text`` as a template that renders to exactly ``text``."""
    if text is None or not any(mark in text for mark in ("{", "%}", "#}")):
        return text
    return "{% raw %}" + text.replace(_END, _END + "{{ '" + _END + "' }}{% raw %}") + _END


def queue_message(
    session: Session,
    key: str,
    channel: str,
    *,
    account_id: int | None,
    contact_id: int | None = None,
    template: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    payload: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[OutboxMessage, bool]:
    """The outbox row for ``key`` (created now or earlier) and whether it was created now;
    due at ``due_at``, else at ``now`` (the caller's clock, else the wall clock)."""
    message = OutgoingMessage(
        channel=channel,
        account_id=account_id,
        contact_id=contact_id,
        playbook_key="growth",
        step_key=template,  # what kind of growth message; the text itself is inline
        template=None,
        subject=literal(subject),
        body=literal(body),
        payload=payload or {},
        due_at=due_at,
        key=key[:255],
    )
    inserted = enqueue_many(session, [message], now or utcnow())
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key[:255]))
    return row, bool(inserted)
