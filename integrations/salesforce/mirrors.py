"""Opportunities and Cases kept as read (renewals, expansion, support volume).

Each is mirrored in ``salesforce_records``; the account's ``attributes["salesforce"]`` gets a
summary (open renewals and the next renewal date, expansion pipeline and wins, open and
recent Cases), and each Case leaves one support event. A record whose Account is not in the
hub yet waits with that Account's Salesforce id and is linked when the Account arrives.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.models import Account, Event, SalesforceRecord
from integrations.salesforce.context import PullContext, account_ids, fresh
from integrations.salesforce.state import parse_ts


def _apply_mirror(
    session: Session, sobject: str, page: list[dict[str, Any]], ctx: PullContext
) -> tuple[set[int], list[SalesforceRecord]]:
    """Upsert mirror rows; the accounts touched and the rows changed.

    A record whose Account is not in the hub yet is kept with its Account's Salesforce id and
    linked when that Account is pulled (``link_mirrors``).
    """
    accounts = account_ids(session, (r.get("AccountId") for r in page))
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
        is_new, stamp = fresh(row.system_modstamp if row else None, record, ctx)
        if not is_new:
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
