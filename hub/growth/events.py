"""Growth milestones as hub events (offer_viewed, offer_accepted, referral_converted, ...),
so playbooks can trigger on them like on any product event. Recorded once per key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.growth.store import insert_once
from hub.models import Event


def record(
    session: Session,
    account_id: int | None,
    name: str,
    key: str,
    at: datetime,
    properties: dict[str, Any] | None = None,
) -> None:
    if account_id is None:
        return
    insert_once(
        session,
        Event,
        {
            "account_id": account_id,
            "name": name,
            "occurred_at": at,
            "properties": properties or {},
            "source": "hub",
            "source_event_id": f"{name}:{key}"[:255],
        },
        ["source", "source_event_id"],
    )
