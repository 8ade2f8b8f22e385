"""Work for a person in Salesforce (a Task or a Case) for the account's owner, once.

Queued through the outbox (idempotency key per piece of work); the dispatcher hands it to the
Salesforce channel, which creates the record once per key. Opportunities for offers are
opened by ``hub.offers.crm`` through ``integrations.salesforce.work`` directly.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from hub.growth.outbox import queue_message
from hub.models import Account, OutboxMessage

CHANNELS = {"task": "sf_task", "case": "sf_case"}
PRIORITIES = {"P1": "High", "P2": "High", "P3": "Normal", "P4": "Low"}


def request_work(
    session: Session,
    kind: str,
    key: str,
    account: Account,
    *,
    subject: str,
    description: str,
    priority: str = "Normal",
    due: date | None = None,
    contact_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[OutboxMessage, bool]:
    """Queue one Salesforce Task/Case/Opportunity for the owner of ``account``."""
    if kind not in CHANNELS:
        raise ValueError(f"unknown Salesforce work kind {kind!r}")
    payload: dict[str, Any] = {
        "kind": kind,
        "account_salesforce_id": account.salesforce_id,
        "owner_id": account.owner_salesforce_id,
        "owner_email": account.owner_email,
        "priority": PRIORITIES.get(priority, priority),
        "due_date": due.isoformat() if due else None,
        "due_in_days": max(0, (due - date.today()).days) if due else None,
        "type": "Other",
        **(extra or {}),
    }
    return queue_message(
        session,
        key,
        CHANNELS[kind],
        account_id=account.id,
        contact_id=contact_id,
        template=f"growth_{kind}",
        subject=subject[:255],
        body=description,
        payload=payload,
    )
