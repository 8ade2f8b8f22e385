"""Helpers for the playbook tests: accounts and contacts, a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy

import pytest

from hub.models import Account, ChurnPrediction, Contact, Event, HealthScore

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


def at(day: int, hour: int = 12) -> datetime:
    """T0's date plus ``day`` days, at ``hour`` UTC."""
    return datetime.combine(
        T0.date() + timedelta(days=day), datetime.min.time(), tzinfo=UTC
    ) + timedelta(hours=hour)


def add_account(session, segment="individual_miner", signup: date | None = None, **fields):
    account = Account(
        name=fields.pop("name", f"Acme {segment}"),
        segment=segment,
        signup_date=signup or T0.date(),
        status=fields.pop("status", "active"),
        lifecycle_stage=fields.pop("lifecycle_stage", "onboarding"),
        owner_email=fields.pop("owner_email", "rep@cshub.example"),
        salesforce_id=fields.pop("salesforce_id", None),
        timezone=fields.pop("timezone", "UTC"),
        **fields,
    )
    session.add(account)
    session.flush()
    return account


def add_contact(session, account, **fields):
    contact = Contact(
        account_id=account.id,
        email=fields.pop("email", f"owner{account.id}@example.com"),
        name=fields.pop("name", "Dana Owner"),
        timezone=fields.pop("timezone", "UTC"),
        role=fields.pop("role", "owner"),
        unsubscribed=fields.pop("unsubscribed", []),
        **fields,
    )
    session.add(contact)
    session.flush()
    return contact


def add_event(session, account, name, when, **properties):
    session.add(
        Event(
            account_id=account.id,
            name=name,
            occurred_at=when,
            properties=properties,
            source="test",
            source_event_id=f"{account.id}-{name}-{when.isoformat()}-{sorted(properties.items())}",
        )
    )
    session.flush()


def add_score(session, account, score, tier, when):
    row = HealthScore(account_id=account.id, score=score, tier=tier, computed_at=when)
    session.add(row)
    session.flush()
    return row


def add_prediction(session, account, probability, segment, when):
    row = ChurnPrediction(
        account_id=account.id,
        probability=probability,
        segment=segment,
        model_version="test",
        predicted_at=when,
    )
    session.add(row)
    session.flush()
    return row


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((envelope.rcpt_tos, msg))
        return "250 OK"

    def keys(self) -> list[str]:
        return [m["X-CSHub-Message"] for _, m in self.messages]


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields (mailbox, port)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
