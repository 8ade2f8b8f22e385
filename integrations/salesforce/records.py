"""Applying one page of pulled Salesforce records to the hub's tables.

Every function takes a session (one transaction per page) and a page of SOQL records that
include ``Id``, ``IsDeleted`` and ``SystemModstamp``. A record whose SystemModstamp is not newer
than the one already applied is a duplicate (the cursor's overlap window re-reads some) and is
skipped; a deleted one marks the hub row deleted; an undeleted one comes back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from hub.models import Account, Contact, Event, SalesforceRecord
from integrations.salesforce import ledger
from integrations.salesforce.mapping import (
    NOT_NULL,
    PULL_CONVERTERS,
    FieldMapping,
    Skip,
    push_value,
)
from integrations.salesforce.settings import SalesforceSettings
from integrations.salesforce.state import parse_ts


@dataclass
class PullContext:
    settings: SalesforceSettings
    account_mappings: list[FieldMapping]
    now: datetime
    stats: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    orphans: list[str] = field(default_factory=list)  # contacts whose Account is not here yet

    @property
    def renewal_from_opportunities(self) -> bool:
        """Renewal dates come from open renewal Opportunities unless an Account field feeds
        them (then Opportunities only fill a renewal date the Account field leaves empty)."""
        return not any(m.hub == "renewal_date" for m in self.account_mappings)


def _fresh(stored: datetime | None, record: dict[str, Any]) -> tuple[bool, datetime | None]:
    stamp = parse_ts(record.get("SystemModstamp"))
    return (stored is None or stamp is None or stamp > stored), stamp


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
        fresh, stamp = _fresh(account.salesforce_modstamp if account else None, record)
        if not fresh:
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
                    "salesforce_modstamp": stamp,
                }
            )
            continue
        ctx.stats["accounts_updated"] += 1
        for name, value in values.items():
            setattr(account, name, value)
        account.deleted_at = None
        account.salesforce_modstamp = stamp
    session.flush()
    if new_rows:
        session.execute(insert(Account), new_rows)
        ctx.stats["accounts_created"] += len(new_rows)
    account_ids = _account_ids(session, ids)
    link_mirrors(session, account_ids, ctx)
    if known:
        ledger.record_accepted(
            session,
            (
                (account_ids[sf_id], hub, ledger.value_hash(push_value(hub, v)))
                for sf_id, hub, v in known
            ),
            ctx.now,
        )


def _account_ids(session: Session, salesforce_ids: Iterable[str | None]) -> dict[str, int]:
    wanted = sorted({i for i in salesforce_ids if i})
    if not wanted:
        return {}
    rows = session.execute(
        select(Account.salesforce_id, Account.id).where(Account.salesforce_id.in_(wanted))
    )
    return {sf_id: account_id for sf_id, account_id in rows}


def apply_contacts(session: Session, page: list[dict[str, Any]], ctx: PullContext) -> None:
    accounts = _account_ids(session, (r.get("AccountId") for r in page))
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
        fresh, stamp = _fresh(contact.salesforce_modstamp if contact else None, record)
        if not fresh:
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
        contact.salesforce_modstamp = stamp


def _apply_mirror(
    session: Session, sobject: str, page: list[dict[str, Any]], ctx: PullContext
) -> tuple[set[int], list[SalesforceRecord]]:
    """Upsert mirror rows; the accounts touched and the rows changed.

    A record whose Account is not in the hub yet is kept with its Account's Salesforce id and
    linked when that Account is pulled (``link_mirrors``).
    """
    accounts = _account_ids(session, (r.get("AccountId") for r in page))
    ids = [r["Id"] for r in page]
    existing = {
        row.salesforce_id: row
        for row in session.scalars(
            select(SalesforceRecord).where(
                SalesforceRecord.sobject == sobject, SalesforceRecord.salesforce_id.in_(ids)
            )
        )
    }
    touched: set[int] = set()
    changed: list[SalesforceRecord] = []
    key = sobject.lower()
    for record in page:
        row = existing.get(record["Id"])
        if record.get("IsDeleted"):
            if row is not None and row.deleted_at is None:
                row.deleted_at = ctx.now
                ctx.stats[f"{key}_deleted"] += 1
                changed.append(row)
                if row.account_id:
                    touched.add(row.account_id)
            continue
        fresh, stamp = _fresh(row.system_modstamp if row else None, record)
        if not fresh:
            ctx.stats["duplicates"] += 1
            continue
        data = {k: v for k, v in record.items() if k not in ("attributes", "IsDeleted")}
        account_sf_id = record.get("AccountId") or None
        account_id = accounts.get(account_sf_id or "")
        if row is None:
            row = SalesforceRecord(sobject=sobject, salesforce_id=record["Id"])
            session.add(row)
            ctx.stats[f"{key}_created"] += 1
        else:
            if row.account_id:
                touched.add(row.account_id)
            ctx.stats[f"{key}_updated"] += 1
        if account_sf_id and account_id is None:
            ctx.stats[f"{key}_awaiting_account"] += 1
        row.account_id, row.account_salesforce_id = account_id, account_sf_id
        row.data, row.system_modstamp, row.deleted_at = data, stamp, None
        changed.append(row)
        if account_id:
            touched.add(account_id)
    return touched, changed


def link_mirrors(session: Session, accounts: dict[str, int], ctx: PullContext) -> None:
    """Attach mirrored Opportunities and Cases that were waiting for these accounts."""
    if not accounts:
        return
    waiting = list(
        session.scalars(
            select(SalesforceRecord).where(
                SalesforceRecord.account_id.is_(None),
                SalesforceRecord.account_salesforce_id.in_(sorted(accounts)),
            )
        )
    )
    touched: dict[str, set[int]] = {"Opportunity": set(), "Case": set()}
    cases = []
    for row in waiting:
        row.account_id = accounts[row.account_salesforce_id or ""]
        touched.setdefault(row.sobject, set()).add(row.account_id)
        if row.sobject == "Case":
            cases.append(row)
        ctx.stats["mirrors_linked"] += 1
    if not waiting:
        return
    session.flush()
    summarise_opportunities(session, touched["Opportunity"], ctx)
    sync_case_events(session, cases, ctx)
    summarise_cases(session, touched["Case"], ctx)


def _summaries(session: Session, sobject: str, account_ids: set[int]) -> dict[int, list[dict]]:
    rows = session.execute(
        select(SalesforceRecord.account_id, SalesforceRecord.data).where(
            SalesforceRecord.sobject == sobject,
            SalesforceRecord.account_id.in_(sorted(account_ids)),
            SalesforceRecord.deleted_at.is_(None),
        )
    )
    out: dict[int, list[dict]] = {a: [] for a in account_ids}
    for account_id, data in rows:
        out[account_id].append(data or {})
    return out


def _set_summary(account: Account, key: str, summary: dict[str, Any]) -> None:
    attributes = dict(account.attributes or {})
    salesforce = dict(attributes.get("salesforce") or {})
    salesforce[key] = summary
    attributes["salesforce"] = salesforce
    account.attributes = attributes


def _as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def apply_opportunities(session: Session, page: list[dict[str, Any]], ctx: PullContext) -> None:
    """Mirror Opportunities; summarise renewals and expansion on their accounts."""
    touched, _changed = _apply_mirror(session, "Opportunity", page, ctx)
    if touched:
        session.flush()
        summarise_opportunities(session, touched, ctx)


def summarise_opportunities(session: Session, touched: set[int], ctx: PullContext) -> None:
    if not touched:
        return
    renewal, expansion = set(ctx.settings.renewal_types), set(ctx.settings.expansion_types)
    today, year_ago = ctx.now.date(), ctx.now.date() - timedelta(days=365)
    by_account = _summaries(session, "Opportunity", touched)
    for account in session.scalars(select(Account).where(Account.id.in_(sorted(touched)))):
        opps = by_account.get(account.id, [])
        open_renewals = [o for o in opps if o.get("Type") in renewal and not o.get("IsClosed")]
        open_expansion = [o for o in opps if o.get("Type") in expansion and not o.get("IsClosed")]
        won_expansion = [
            o
            for o in opps
            if o.get("Type") in expansion
            and o.get("IsWon")
            and (_as_date(o.get("CloseDate")) or today) >= year_ago
        ]
        dates = sorted(d for o in open_renewals if (d := _as_date(o.get("CloseDate"))))
        upcoming = [d for d in dates if d >= today] or dates
        next_renewal = upcoming[0] if upcoming else None
        _set_summary(
            account,
            "opportunities",
            {
                "open_renewals": len(open_renewals),
                "next_renewal_date": next_renewal.isoformat() if next_renewal else None,
                "open_renewal_amount": sum(float(o.get("Amount") or 0) for o in open_renewals),
                "open_expansion": len(open_expansion),
                "open_expansion_amount": sum(float(o.get("Amount") or 0) for o in open_expansion),
                "won_expansion_amount_365d": sum(
                    float(o.get("Amount") or 0) for o in won_expansion
                ),
            },
        )
        if next_renewal is not None and (
            ctx.renewal_from_opportunities or account.renewal_date is None
        ):
            account.renewal_date = next_renewal


def apply_cases(session: Session, page: list[dict[str, Any]], ctx: PullContext) -> None:
    """Mirror Cases, keep one support event per Case, summarise support volume per account."""
    touched, changed = _apply_mirror(session, "Case", page, ctx)
    if changed:
        session.flush()
        sync_case_events(session, changed, ctx)
    if touched:
        session.flush()
        summarise_cases(session, touched, ctx)


def sync_case_events(session: Session, rows: list[SalesforceRecord], ctx: PullContext) -> None:
    """One ``support_ticket_created`` event (configurable name) per Case with an account."""
    event_name = ctx.settings.case_event_name
    if not event_name or not rows:
        return
    keys = [f"case:{row.salesforce_id}" for row in rows]
    events = {
        e.source_event_id: e
        for e in session.scalars(
            select(Event).where(Event.source == "salesforce", Event.source_event_id.in_(keys))
        )
    }
    gone = [f"case:{r.salesforce_id}" for r in rows if r.deleted_at or not r.account_id]
    if gone:
        session.execute(
            delete(Event).where(Event.source == "salesforce", Event.source_event_id.in_(gone))
        )
    for row in rows:
        if row.deleted_at or not row.account_id:
            continue
        key = f"case:{row.salesforce_id}"
        data = row.data or {}
        event = events.get(key)
        if event is None:
            event = Event(source="salesforce", source_event_id=key, name=event_name)
            session.add(event)
            ctx.stats["case_events"] += 1
        event.account_id = row.account_id
        event.occurred_at = parse_ts(data.get("CreatedDate")) or ctx.now
        event.properties = {
            "case_id": row.salesforce_id,
            "case_number": data.get("CaseNumber"),
            "status": data.get("Status"),
            "priority": data.get("Priority"),
            "origin": data.get("Origin"),
            "is_closed": bool(data.get("IsClosed")),
            "subject": (data.get("Subject") or "")[:255],
        }


def summarise_cases(session: Session, touched: set[int], ctx: PullContext) -> None:
    if not touched:
        return
    month_ago = ctx.now - timedelta(days=30)
    by_account = _summaries(session, "Case", touched)
    for account in session.scalars(select(Account).where(Account.id.in_(sorted(touched)))):
        cases = by_account.get(account.id, [])
        open_cases = [c for c in cases if not c.get("IsClosed")]
        recent = [c for c in cases if (parse_ts(c.get("CreatedDate")) or ctx.now) >= month_ago]
        _set_summary(
            account,
            "cases",
            {
                "open": len(open_cases),
                "open_high_priority": sum(
                    1 for c in open_cases if str(c.get("Priority") or "").lower() == "high"
                ),
                "created_30d": len(recent),
                "total": len(cases),
            },
        )
