"""Salesforce Tasks and Cases for anything a person must do (owner, due date, priority).

The Salesforce client and the once-per-key bookkeeping belong to ``integrations.salesforce``
(``work.open_task`` / ``work.open_case``: the key is recorded before the create call and a
record created by an interrupted attempt is adopted, not duplicated), so this adapter only
renders the subject and description and maps the outbox message onto those calls; a send
interrupted mid-flight is safely repeated (``idempotent_delivery``).

Task: on the Account, assigned to the account owner (or the step's ``owner``, else the
configured default owner), due ``due_in`` after the day it was queued, priority
High/Normal/Low. Case: on the Account (and Contact when known), priority High/Medium/Low.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from integrations.channels.base import TEAM, Channel, Delivery, Envelope
from integrations.channels.render import render_string
from integrations.errors import SkippableError


def work_text(envelope: Envelope) -> tuple[str, str]:
    """The rendered subject and description of the Task or Case."""
    payload = envelope.payload
    context = {
        "account": envelope.account,
        "contact": envelope.contact or {},
        "segment": envelope.account.get("segment"),
        "params": dict(payload.get("params") or {}),
        "detail": dict(payload.get("detail") or {}),
    }
    subject = render_string(envelope.subject, context) or "cshub follow-up"
    description = render_string(envelope.body, context) or ""
    return subject, description


def due_date(envelope: Envelope) -> date:
    payload = envelope.payload
    today = date.fromisoformat(payload["today"]) if payload.get("today") else date.today()
    return today + timedelta(days=float(payload.get("due_in_days") or 0))


class _SalesforceWork(Channel):
    audience = TEAM
    spec = "salesforce"
    requires = ("simple_salesforce", "integrations.salesforce.work")
    idempotent_delivery = True
    sobject = "Task"

    def __init__(self, settings: dict[str, Any], context) -> None:
        super().__init__(settings, context)
        self._client = None
        self._typed = None

    @classmethod
    def unconfigured(cls, settings: dict[str, Any]) -> str | None:
        if not (settings.get("client_id") or settings.get("access_token")):
            return "not configured: Salesforce is not connected"
        return None

    @contextmanager
    def open(self) -> Iterator[_SalesforceWork]:
        from integrations.salesforce.client import SalesforceClient
        from integrations.salesforce.settings import resolve

        self._typed = dataclasses.replace(
            resolve(self.settings), ca_bundle=self.context.ca_bundle or ""
        )
        with SalesforceClient(self._typed) as client:
            self._client = client
            try:
                yield self
            finally:
                self._client = None

    def send(self, envelope: Envelope) -> Delivery:
        from hub.db import db
        from integrations.salesforce import work

        if not envelope.account.get("salesforce_id"):
            raise SkippableError("the account is not linked to a Salesforce Account")
        if self._client is None:
            with self.open():
                return self.send(envelope)
        subject, description = work_text(envelope)
        account = work.AccountRef.of(envelope.account)
        owner = envelope.payload.get("owner_id")
        if self.sobject == "Case":
            result = work.open_case(
                self._client,
                db.begin,
                self._typed,
                key=envelope.idempotency_key,
                account=account,
                subject=subject,
                description=description,
                priority=envelope.payload.get("priority", "Normal"),
                contact_salesforce_id=(envelope.contact or {}).get("salesforce_id"),
                owner_id=owner,
            )
        else:
            result = work.open_task(
                self._client,
                db.begin,
                self._typed,
                key=envelope.idempotency_key,
                account=account,
                subject=subject,
                description=description,
                due_date=due_date(envelope),
                priority=envelope.payload.get("priority", "Normal"),
                owner_id=owner,
            )
        return Delivery(
            external_id=result.salesforce_id,
            subject=subject,
            body=description,
            detail={"created": result.created, "sobject": result.sobject},
        )


class SalesforceTaskChannel(_SalesforceWork):
    name = "sf_task"
    title = "Salesforce Task"
    sobject = "Task"


class SalesforceCaseChannel(_SalesforceWork):
    name = "sf_case"
    title = "Salesforce Case"
    sobject = "Case"


CHANNELS = (SalesforceTaskChannel, SalesforceCaseChannel)
