"""Fraud checks: self-referral (same account, same company email domain, same card) and
reward caps per referrer and period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Account, Contact, ReferralCode, RewardLedgerEntry

COUNTED = ("pending", "granting", "granted", "payout_due", "paid")


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


def referrer_domains(session: Session, code: ReferralCode) -> set[str]:
    """Company domains of the referrer: the account's domain and its contacts' domains."""
    account = session.get(Account, code.account_id)
    domains = {account.domain.lower()} if account and account.domain else set()
    emails = session.scalars(
        select(Contact.email).where(
            Contact.account_id == code.account_id, Contact.email.is_not(None)
        )
    )
    domains.update(d for d in map(email_domain, emails) if d)
    return domains


def self_referral_at_signup(
    session: Session,
    fraud: dict[str, Any],
    code: ReferralCode,
    *,
    email: str | None,
    account_id: int | None,
    stripe_customer_id: str | None,
) -> str | None:
    """The reason a signup is a self-referral, or None when it looks genuine."""
    referrer = session.get(Account, code.account_id)
    if fraud.get("check_same_account", True):
        if account_id is not None and account_id == code.account_id:
            return "same_account"
        if (
            stripe_customer_id
            and referrer is not None
            and referrer.stripe_customer_id == stripe_customer_id
        ):
            return "same_account"
    if fraud.get("check_email_domain", True):
        domain = email_domain(email)
        free = {d.lower() for d in fraud.get("free_email_domains", [])}
        if domain and domain not in free and domain in referrer_domains(session, code):
            return "same_email_domain"
    return None


def same_payment_fingerprint(
    fingerprints_of: Callable[[str], set[str]],
    referrer_customer: str | None,
    referred_customer: str | None,
) -> bool:
    """Whether both Stripe customers hold the same card (Stripe card fingerprints)."""
    if not referrer_customer or not referred_customer:
        return False
    mine = fingerprints_of(referrer_customer)
    return bool(mine and mine & fingerprints_of(referred_customer))


def over_cap(
    session: Session,
    fraud: dict[str, Any],
    referrer_account_id: int,
    amount: float,
    now: datetime,
) -> str | None:
    """The cap a new referrer reward of ``amount`` would break, or None."""
    caps = fraud.get("caps") or {}
    since = now - timedelta(days=int(caps.get("period_days", 365)))
    base = select(RewardLedgerEntry).where(
        RewardLedgerEntry.account_id == referrer_account_id,
        RewardLedgerEntry.role == "referrer",
        RewardLedgerEntry.status.in_(COUNTED),
        RewardLedgerEntry.created_at >= since,
    )
    sub = base.subquery()
    # one referral may carry several rewards: the count cap is on referrals rewarded
    count = session.scalar(select(func.count(func.distinct(sub.c.referral_id))))
    total = session.scalar(select(func.coalesce(func.sum(sub.c.amount), 0)))
    if count is not None and count >= int(caps.get("rewards_per_referrer", 10**9)):
        return "cap_rewards_per_period"
    if float(total or 0) + amount > float(caps.get("amount_per_referrer", float("inf"))):
        return "cap_amount_per_period"
    return None
