"""Salesforce Tasks and Cases for anything a person must do (owner, due date, priority).

The Salesforce client belongs to ``integrations.salesforce``; this adapter only maps an outbox
message to the Task or Case fields and asks ``integrations.salesforce.work`` to create it once
per idempotency key (the work module records the key, so an interrupted send is safely
repeated: ``idempotent_delivery``).

Task fields: Subject, Description, Priority (High/Normal/Low), ActivityDate (due date),
OwnerId (the account owner's user id, else the configured default owner), WhatId (the
Account), WhoId (the Contact, when known), Status "Not Started", Type. Case fields: Subject,
Description, Priority, Origin "cshub", AccountId, ContactId, OwnerId.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from integrations.channels.base import TEAM, Channel, Delivery, Envelope
from integrations.channels.render import render_string
from integrations.errors import SkippableError

PRIORITIES = {"High": "High", "Normal": "Normal", "Low": "Low"}


def _work():
    from integrations.salesforce import work

    return work


def task_fields(envelope: Envelope, today: date) -> dict[str, Any]:
    """The Salesforce fields of the Task or Case for ``envelope``."""
    account = envelope.account
    if not account.get("salesforce_id"):
        raise SkippableError("the account is not linked to a Salesforce Account")
    payload = envelope.payload
    context = {
        "account": account,
        "contact": envelope.contact or {},
        "segment": account.get("segment"),
        "params": dict(payload.get("params") or {}),
        "detail": dict(payload.get("detail") or {}),
    }
    subject = render_string(envelope.subject, context) or "cshub follow-up"
    description = render_string(envelope.body, context) or ""
    priority = PRIORITIES.get(payload.get("priority", "Normal"), "Normal")
    owner = payload.get("owner_id") or account.get("owner_salesforce_id")
    contact_sf = (envelope.contact or {}).get("salesforce_id")
    if envelope.channel == "sf_case":
        fields = {
            "Subject": subject[:255],
            "Description": description,
            "Priority": "High"
            if priority == "High"
            else "Medium"
            if priority == "Normal"
            else "Low",
            "Origin": "cshub",
            "Status": "New",
            "AccountId": account["salesforce_id"],
        }
        if contact_sf:
            fields["ContactId"] = contact_sf
    else:
        due_days = payload.get("due_in_days")
        fields = {
            "Subject": subject[:255],
            "Description": description,
            "Priority": priority,
            "Status": "Not Started",
            "WhatId": account["salesforce_id"],
        }
        if due_days is not None:
            fields["ActivityDate"] = (today + timedelta(days=float(due_days))).isoformat()
        if payload.get("type"):
            fields["Type"] = payload["type"]
        if contact_sf:
            fields["WhoId"] = contact_sf
    if owner:
        fields["OwnerId"] = owner
    return fields


class _SalesforceWork(Channel):
    audience = TEAM
    spec = "salesforce"
    requires = ("simple_salesforce", "integrations.salesforce.work")
    idempotent_delivery = True
    sobject = "Task"

    @classmethod
    def unconfigured(cls, settings: dict[str, Any]) -> str | None:
        if not (settings.get("client_id") or settings.get("access_token")):
            return "not configured: Salesforce is not connected"
        return None

    def send(self, envelope: Envelope) -> Delivery:
        today = (
            date.fromisoformat(envelope.payload["today"])
            if envelope.payload.get("today")
            else date.today()
        )
        fields = task_fields(envelope, today)
        record_id = _work().create_once(
            self.settings,
            self.sobject,
            envelope.idempotency_key,
            fields,
            ca_bundle=self.context.ca_bundle,
        )
        return Delivery(
            external_id=record_id, subject=fields["Subject"], body=fields.get("Description")
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
