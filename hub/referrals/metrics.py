"""Measured referral figures: the funnel and the programme's return, from stored rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import OutboxMessage, Referral, ReferralCode, RewardLedgerEntry

PAID = ("granted", "paid")


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def funnel(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Invited -> clicked -> signed up -> converted -> rewarded, for the period."""

    def count(stmt) -> int:
        return int(session.scalar(stmt) or 0)

    invited = count(
        select(func.count(func.distinct(OutboxMessage.contact_id))).where(
            OutboxMessage.playbook_key == "growth",
            OutboxMessage.step_key == "referral_invite",
            OutboxMessage.created_at >= since,
            OutboxMessage.created_at < until,
        )
    )
    clicked = count(
        select(func.count())
        .select_from(Referral)
        .where(Referral.clicked_at >= since, Referral.clicked_at < until)
    )
    signed = count(
        select(func.count())
        .select_from(Referral)
        .where(Referral.signed_up_at >= since, Referral.signed_up_at < until)
    )
    converted = count(
        select(func.count())
        .select_from(Referral)
        .where(Referral.converted_at >= since, Referral.converted_at < until)
    )
    by_status = dict(
        session.execute(
            select(Referral.status, func.count())
            .where(Referral.signed_up_at >= since, Referral.signed_up_at < until)
            .group_by(Referral.status)
        ).all()
    )
    rejected = dict(
        session.execute(
            select(Referral.rejection_reason, func.count())
            .where(
                Referral.status.in_(("rejected", "reversed")),
                Referral.signed_up_at >= since,
                Referral.signed_up_at < until,
            )
            .group_by(Referral.rejection_reason)
        ).all()
    )
    total_clicks = count(select(func.coalesce(func.sum(ReferralCode.clicks), 0)))
    return {
        "invited_contacts": invited,
        "clicked": clicked,
        "signed_up": signed,
        "converted": converted,
        "by_status": by_status,
        "rejected_by_reason": {str(k): v for k, v in rejected.items()},
        "click_to_signup": _rate(signed, clicked),
        "signup_to_conversion": _rate(converted, signed),
        "all_time_link_clicks": total_clicks,
    }


def programme_roi(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Revenue from referred customers against the money rewards paid for them.

    Revenue is what referred customers actually paid (their paid invoices); cost is the
    account credits and cash bonuses granted. Discount coupons cost only when redeemed and
    are counted separately, not priced.
    """
    revenue = float(
        session.scalar(
            select(func.coalesce(func.sum(Referral.revenue), 0)).where(
                Referral.converted_at >= since, Referral.converted_at < until
            )
        )
        or 0
    )
    rows = session.execute(
        select(
            RewardLedgerEntry.kind,
            RewardLedgerEntry.currency,
            func.count(),
            func.sum(RewardLedgerEntry.amount),
        )
        .where(
            RewardLedgerEntry.status.in_(PAID),
            RewardLedgerEntry.granted_at >= since,
            RewardLedgerEntry.granted_at < until,
        )
        .group_by(RewardLedgerEntry.kind, RewardLedgerEntry.currency)
    ).all()
    cost = 0.0
    granted: dict[str, Any] = {}
    for kind, currency, n, amount in rows:
        granted[f"{kind}:{currency}"] = {"count": n, "amount": float(amount or 0)}
        if kind in ("account_credit", "cash_bonus"):
            cost += float(amount or 0)
    return {
        "revenue_from_referred": round(revenue, 2),
        "reward_cost": round(cost, 2),
        "roi": round((revenue - cost) / cost, 4) if cost else None,
        "granted": granted,
        "note": "revenue is paid invoices of referred customers; coupons are not priced",
    }
