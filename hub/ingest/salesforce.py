"""Salesforce Outbound Message notifications -> account and contact changes, then a pull.

Each notification is applied at most once: it leaves an ``Event`` (source ``salesforce``,
keyed by the notification ``Id``, which Salesforce keeps across retries), and a notification
already recorded is skipped even when Salesforce batches it into another message.

The fields a notification carries are applied to the matching account or contact (by
``salesforce_id``): ``Name``, ``Website`` (as the domain) and ``OwnerId`` on accounts;
``Email``, ``FirstName``/``LastName``, ``Phone``, ``Title`` and ``AccountId`` on contacts; any
other field is kept under ``attributes["salesforce"]``. cshub's own score fields are never
applied back. A notification whose ``SystemModstamp`` (or ``LastModifiedDate``) is older than
the one already applied changes nothing. Records cshub does not have yet, and the fields the
message did not carry, come with ``jobs.sync.salesforce_pull_records(sobject, ids)``, enqueued
once the transaction has committed.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.ingest import hooks
from hub.ingest.base import Outcome, insert_ignore, parse_time
from hub.ingest.soap import Notification, parse
from hub.models import Account, Contact, Event, InboxEvent

SOURCE = "salesforce"
PULL_JOB = "jobs.sync.salesforce_pull_records"
OWN_FIELDS = {
    "Health_Score__c",
    "Health_Tier__c",
    "Health_Trend__c",
    "Churn_Risk__c",
    "Churn_Risk_Segment__c",
    "Health_Reasons__c",
    "Last_Scored__c",
}
SKIP_FIELDS = {"Id", *OWN_FIELDS}


def domain_of(website: str | None) -> str | None:
    if not website:
        return None
    host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
    host = host.lower().removeprefix("www.")
    return host[:255] or None


def _modstamp(fields: dict[str, str | None]) -> datetime | None:
    return parse_time(fields.get("SystemModstamp") or fields.get("LastModifiedDate"))


def _by_sf_id(session: Session, model: type, record_id: str) -> Any:
    ids = {record_id, record_id[:15]}
    return session.scalar(
        select(model).where(model.salesforce_id.in_(ids)).limit(1).with_for_update()
    )


def _newer(target: Account | Contact, stamp: datetime | None) -> bool:
    """Whether a notification stamped ``stamp`` is not older than what was applied."""
    seen = parse_time(((target.attributes or {}).get("salesforce") or {}).get("SystemModstamp"))
    return stamp is None or seen is None or stamp >= seen


def _keep_rest(target: Account | Contact, fields: dict[str, str | None], mapped: set[str]) -> None:
    attributes = copy.deepcopy(target.attributes or {})
    kept = attributes.setdefault("salesforce", {})
    for name, value in fields.items():
        if name not in SKIP_FIELDS and name not in mapped:
            kept[name] = value
    stamp = _modstamp(fields)
    if stamp is not None:
        kept["SystemModstamp"] = stamp.isoformat()
    target.attributes = attributes


def _apply_account(account: Account, fields: dict[str, str | None]) -> None:
    if fields.get("Name"):
        account.name = fields["Name"][:255]  # type: ignore[index]
    if "Website" in fields:
        account.domain = domain_of(fields["Website"])
    if fields.get("OwnerId"):
        account.owner_salesforce_id = fields["OwnerId"][:18]  # type: ignore[index]
    _keep_rest(account, fields, {"Name", "Website", "OwnerId"})


def _apply_contact(session: Session, contact: Contact, fields: dict[str, str | None]) -> None:
    if "Email" in fields:
        contact.email = (fields["Email"] or "").lower()[:255] or None
    if "FirstName" in fields or "LastName" in fields:
        name = " ".join(p for p in (fields.get("FirstName"), fields.get("LastName")) if p)
        contact.name = name[:255] or contact.name
    if "Phone" in fields:
        contact.phone = (fields["Phone"] or "")[:32] or None
    if "Title" in fields:
        contact.role = (fields["Title"] or "")[:64] or None
    if fields.get("AccountId"):
        account = _by_sf_id(session, Account, fields["AccountId"])  # type: ignore[arg-type]
        if account is not None:
            contact.account_id = account.id
    mapped = {"Email", "FirstName", "LastName", "Phone", "Title", "AccountId"}
    _keep_rest(contact, fields, mapped)


def _apply(session: Session, n: Notification) -> tuple[Account | None, str]:
    """Apply one notification's fields; the account it concerns and what happened."""
    record_id = n.record_id
    if not record_id:
        return None, "no record id"
    stamp = _modstamp(n.fields)
    if n.sobject == "Account":
        account = _by_sf_id(session, Account, record_id)
        if account is None:
            return None, "not in cshub yet"
        if not _newer(account, stamp):
            return account, "stale"
        _apply_account(account, n.fields)
        return account, "applied"
    if n.sobject == "Contact":
        contact = _by_sf_id(session, Contact, record_id)
        if contact is None:
            return None, "not in cshub yet"
        if not _newer(contact, stamp):
            return session.get(Account, contact.account_id), "stale"
        _apply_contact(session, contact, n.fields)
        return session.get(Account, contact.account_id), "applied"
    account_ref = n.fields.get("AccountId")
    account = _by_sf_id(session, Account, account_ref) if account_ref else None
    return account, "pulled only"


def process(session: Session, row: InboxEvent) -> Outcome:
    """Apply each new notification of one message (fields, then hooks); pull the records."""
    envelope = parse(row.body)
    counts: dict[str, int] = defaultdict(int)
    pulls: dict[str, set[str]] = defaultdict(set)
    followups: list[hooks.FollowUp] = []
    for n in envelope.notifications:
        new = insert_ignore(
            session,
            Event,
            {
                "name": "salesforce_outbound_message",
                "occurred_at": _modstamp(n.fields) or row.received_at,
                "properties": {
                    "sobject": n.sobject,
                    "record_id": n.record_id,
                    "action_id": envelope.action_id,
                    "fields": sorted(k for k in n.fields if k != "Id"),
                },
                "source": SOURCE,
                "source_event_id": n.id,
            },
            "source",
            "source_event_id",
        )
        if not new:
            counts["duplicates"] += 1
            continue
        account, what = _apply(session, n)
        counts[what] += 1
        if account is not None:
            session.get(Event, new).account_id = account.id
        if n.record_id:
            pulls[n.sobject].add(n.record_id)
        ctx = hooks.HookContext(
            session=session,
            source=SOURCE,
            event_type=n.sobject,
            event={"notification_id": n.id, "sobject": n.sobject, "fields": n.fields},
            inbox_id=row.id,
            external_id=row.external_id,
            account=account,
        )
        hooks.publish(ctx)
        followups.extend(ctx.followups)
    for sobject, ids in sorted(pulls.items()):
        followups.append(hooks.FollowUp(PULL_JOB, (sobject, sorted(ids))))
    return Outcome("processed", dict(counts), followups)
