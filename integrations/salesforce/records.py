"""Applying one page of pulled Accounts and Contacts to the hub's tables.

Every function takes a session (one transaction per page) and a page of SOQL records that
include ``Id``, ``IsDeleted`` and ``SystemModstamp``. A record whose SystemModstamp is not newer
than the one already applied (kept in ``attributes["salesforce"]["SystemModstamp"]``, as the
Outbound Message ingest keeps it) is a duplicate the cursor's overlap window re-read, and is
skipped; a deleted one marks the hub row deleted; an undeleted one comes back.
Opportunities and Cases are in ``mirrors``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.models import Account, Contact
from integrations.salesforce import ledger
from integrations.salesforce.context import PullContext, account_ids, applied, fresh, stamped
from integrations.salesforce.mapping import NOT_NULL, PULL_CONVERTERS, Skip, push_value
from integrations.salesforce.mirrors import apply_cases, apply_opportunities, link_mirrors

__all__ = ["PullContext", "apply_accounts", "apply_cases", "apply_contacts", "apply_opportunities"]


def apply_accounts(session: Session, page: list[dict[str, Any]], ctx: PullContext) -> None:
    ids = [r["Id"] for r in page]
    existing = {
        a.salesforce_id: a
        for a in session.scalars(select(Account).where(Account.salesforce_id.in_(ids)))
    }
    both = [m for m in ctx.account_mappings if m.direction == "both"]
    known: list[tuple[str, str, Any]] = []  # (salesforce id, hub field, value)
    new_rows: list[dict[str, Any]] = []
    for record in page:
        account = existing.get(record["Id"])
        if record.get("IsDeleted"):
            if account is not None and account.deleted_at is None:
                account.deleted_at = ctx.now
                ctx.stats["accounts_deleted"] += 1
            continue
        is_new, stamp = fresh(applied(account), record, ctx)
        if not is_new:
            ctx.stats["duplicates"] += 1
            continue
        values: dict[str, Any] = {}
        for m in ctx.account_mappings:
            try:
                value = PULL_CONVERTERS[m.hub](m.read(record))
            except Skip as exc:
                ctx.warnings[f"{m.hub}: {exc}"] += 1
                continue
            if value is None and m.hub in NOT_NULL:
                continue
            values[m.hub] = value
        known.extend((record["Id"], m.hub, values[m.hub]) for m in both if m.hub in values)
        if account is None:  # inserted in one statement below (the ORM unit of work is slow)
            new_rows.append(
                {
                    **values,
                    "salesforce_id": record["Id"],
                    "name": values.get("name") or record["Id"],
                    "attributes": stamped(None, stamp),
                }
            )
            continue
        ctx.stats["accounts_updated"] += 1
        for name, value in values.items():
            setattr(account, name, value)
        account.deleted_at = None
        account.attributes = stamped(account.attributes, stamp)
    session.flush()
    if new_rows:
        session.execute(insert(Account), new_rows)
        ctx.stats["accounts_created"] += len(new_rows)
    known_ids = account_ids(session, ids)
    link_mirrors(session, known_ids, ctx)
    if known:
        ledger.record_accepted(
            session,
            (
                (known_ids[sf_id], hub, ledger.value_hash(push_value(hub, v)))
                for sf_id, hub, v in known
            ),
            ctx.now,
        )


def apply_contacts(session: Session, page: list[dict[str, Any]], ctx: PullContext) -> None:
    accounts = account_ids(session, (r.get("AccountId") for r in page))
    ids = [r["Id"] for r in page]
    existing = {
        c.salesforce_id: c
        for c in session.scalars(select(Contact).where(Contact.salesforce_id.in_(ids)))
    }
    for record in page:
        contact = existing.get(record["Id"])
        if record.get("IsDeleted"):
            if contact is not None and contact.deleted_at is None:
                contact.deleted_at = ctx.now
                ctx.stats["contacts_deleted"] += 1
            continue
        is_new, stamp = fresh(applied(contact), record, ctx)
        if not is_new:
            ctx.stats["duplicates"] += 1
            continue
        account_id = accounts.get(record.get("AccountId") or "")
        if account_id is None:
            ctx.stats["contacts_without_account"] += 1
            if record.get("AccountId"):
                ctx.orphans.append(record["Id"])
            continue
        if contact is None:
            contact = Contact(salesforce_id=record["Id"], account_id=account_id)
            session.add(contact)
            ctx.stats["contacts_created"] += 1
        else:
            ctx.stats["contacts_updated"] += 1
        contact.account_id = account_id
        contact.name = (record.get("Name") or "")[:255] or None
        contact.email = (record.get("Email") or "").strip().lower()[:255] or None
        contact.phone = (record.get("Phone") or "")[:32] or None
        contact.role = (record.get("Title") or "")[:64] or None
        contact.deleted_at = None
        contact.attributes = stamped(contact.attributes, stamp)
