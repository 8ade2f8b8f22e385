"""Queue a message on a channel through the outbox, at most once per idempotency key.

The playbook engine's dispatcher delivers outbox rows; this module only writes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.growth.store import insert_once
from hub.models import OutboxMessage


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
) -> tuple[OutboxMessage, bool]:
    """The outbox row for ``key`` (created now or earlier) and whether it was created now."""
    values = {
        "idempotency_key": key[:255],
        "channel": channel,
        "account_id": account_id,
        "contact_id": contact_id,
        "template": template,
        "subject": subject,
        "body": body,
        "payload": payload or {},
        "status": "pending",
        "due_at": due_at or utcnow(),
    }
    return insert_once(session, OutboxMessage, values, ["idempotency_key"])
