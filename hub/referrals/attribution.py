"""Attribution: a link click or a typed code at signup, through to the first paid invoice.

Every step is idempotent: a repeated webhook finds the referral already in the later state and
changes nothing; rewards are ledger rows with unique keys (see ``hub.referrals.rewards``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.growth.events import record as record_event
from hub.models import Account, Referral, ReferralCode
from hub.referrals import fraud, rewards
from hub.referrals.config import settings
from hub.referrals.programme import find_code

OPEN = ("clicked",)
ATTRIBUTED = ("signed_up", "converted", "rewarded")


@dataclass
class Outcome:
    status: str  # what happened: clicked, signed_up, converted, duplicate, rejected, ...
    referral: Referral | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "referral_id": self.referral.id if self.referral else None,
            "reason": self.reason,
        }


def record_click(
    session: Session, code: ReferralCode, click_token: str | None, now: datetime
) -> Referral:
    """Count a click on ``code``'s link; a returning visitor (same cookie) keeps one referral."""
    code.clicks = (code.clicks or 0) + 1
    if click_token:
        existing = session.scalar(
            select(Referral).where(Referral.click_token == click_token, Referral.code_id == code.id)
        )
        if existing is not None:
            return existing
    referral = Referral(
        code_id=code.id,
        status="clicked",
        source="link",
        clicked_at=now,
        click_token=secrets.token_urlsafe(24),
        details={},
    )
    session.add(referral)
    session.flush()
    return referral


def record_signup(
    session: Session,
    typed_code: str | None,
    *,
    now: datetime,
    email: str | None = None,
    account_id: int | None = None,
    stripe_customer_id: str | None = None,
    click_token: str | None = None,
    source: str = "signup",
) -> Outcome:
    """Attribute a new customer to a referral code (typed) or an earlier click (cookie)."""
    cfg = settings(session)
    existing = _existing_for(session, account_id, stripe_customer_id)
    if existing is not None:
        _fill_identity(existing, email, account_id, stripe_customer_id)
        return Outcome("duplicate", existing)
    clicked = None
    if click_token:
        clicked = session.scalar(select(Referral).where(Referral.click_token == click_token))
    code = find_code(session, typed_code) if typed_code else None
    if code is None and clicked is not None:
        code = session.get(ReferralCode, clicked.code_id)
    if code is None or code.disabled_at is not None:
        return Outcome("unknown_code", reason="no valid referral code or click")
    window = timedelta(days=cfg["attribution_window_days"])
    if (
        clicked is not None
        and clicked.code_id == code.id
        and clicked.status in OPEN
        and clicked.clicked_at is not None
        and now - clicked.clicked_at <= window
    ):
        referral = clicked
    else:
        referral = Referral(code_id=code.id, status="clicked", source=source, details={})
        session.add(referral)
    _fill_identity(referral, email, account_id, stripe_customer_id)
    referral.signed_up_at = now
    reason = fraud.self_referral_at_signup(
        session,
        cfg["fraud"],
        code,
        email=email,
        account_id=account_id,
        stripe_customer_id=stripe_customer_id,
    )
    if reason:
        referral.status = "rejected"
        referral.rejection_reason = reason
        session.flush()
        return Outcome("rejected", referral, reason)
    referral.status = "signed_up"
    session.flush()
    referred_account = account_id or _account_id_for(session, stripe_customer_id)
    if referred_account is not None:
        rewards.plan(
            session, referral, "referred", cfg["rewards"]["referred"], referred_account, now
        )
    else:
        referral.details = {**(referral.details or {}), "referred_rewards": "awaiting_account"}
    return Outcome("signed_up", referral)


def record_paid_invoice(
    session: Session,
    *,
    stripe_customer_id: str,
    invoice_id: str,
    amount_paid: float,
    now: datetime,
) -> Outcome:
    """Count a paid invoice of a referred customer; the first one converts the referral."""
    referral = _existing_for(session, None, stripe_customer_id)
    if referral is None:
        return Outcome("not_referred")
    invoices = dict((referral.details or {}).get("invoices") or {})
    if invoice_id in invoices:
        return Outcome("duplicate", referral)
    if amount_paid <= 0:
        return Outcome("ignored", referral, "nothing paid")
    invoices[invoice_id] = amount_paid
    referral.details = {**(referral.details or {}), "invoices": invoices}
    if referral.status in ("converted", "rewarded"):
        referral.revenue = float(referral.revenue or 0) + amount_paid
        return Outcome("revenue", referral)
    if referral.status != "signed_up":
        return Outcome(referral.status, referral, referral.rejection_reason)
    cfg = settings(session)
    if referral.signed_up_at and now - referral.signed_up_at > timedelta(
        days=cfg["conversion_window_days"]
    ):
        referral.status = "expired"
        return Outcome("expired", referral, "first payment came after the conversion window")
    code = session.get(ReferralCode, referral.code_id)
    referrer = session.get(Account, code.account_id)
    referral.revenue = float(referral.revenue or 0) + amount_paid
    referral.converted_at = now
    if referrer is not None and referrer.stripe_customer_id == stripe_customer_id:
        referral.status = "rejected"
        referral.rejection_reason = "same_account"
        rewards.reverse_pending(session, referral, "same_account", now)
        return Outcome("rejected", referral, "same_account")
    referral.status = "converted"
    if referral.referred_account_id is None:
        referral.referred_account_id = _account_id_for(session, stripe_customer_id)
        if referral.referred_account_id is not None:
            rewards.plan(
                session,
                referral,
                "referred",
                cfg["rewards"]["referred"],
                referral.referred_account_id,
                now,
            )
    hold_until = now + timedelta(days=cfg["hold_days"])
    referrer_rewards = cfg["rewards"]["referrer"]
    cap = fraud.over_cap(
        session, cfg["fraud"], code.account_id, rewards.money_total(referrer_rewards), now
    )
    rewards.plan(
        session,
        referral,
        "referrer",
        referrer_rewards,
        code.account_id,
        hold_until,
        status="capped" if cap else "pending",
    )
    if cap:
        referral.details = {**(referral.details or {}), "capped": cap}
    record_event(
        session,
        code.account_id,
        "referral_converted",
        str(referral.id),
        now,
        {"referral_id": referral.id, "revenue": amount_paid},
    )
    session.flush()
    return Outcome("converted", referral, cap)


def record_reversal(
    session: Session, *, stripe_customer_id: str, kind: str, now: datetime, ref: str
) -> Outcome:
    """A refund or chargeback of a referred customer reverses rewards still on hold."""
    cfg = settings(session)
    if kind not in cfg["fraud"].get("reverse_on", []):
        return Outcome("ignored", reason=f"{kind} does not reverse rewards")
    referral = _existing_for(session, None, stripe_customer_id)
    if referral is None:
        return Outcome("not_referred")
    reversed_count = rewards.reverse_pending(session, referral, f"{kind}:{ref}", now)
    if reversed_count and referral.status in ("converted", "signed_up"):
        referral.status = "reversed"
        referral.rejection_reason = kind
    return Outcome("reversed" if reversed_count else "nothing_pending", referral, kind)


def _existing_for(
    session: Session, account_id: int | None, stripe_customer_id: str | None
) -> Referral | None:
    conditions = []
    if account_id is not None:
        conditions.append(Referral.referred_account_id == account_id)
    if stripe_customer_id:
        conditions.append(Referral.referred_stripe_customer_id == stripe_customer_id)
        account = _account_id_for(session, stripe_customer_id)
        if account is not None:
            conditions.append(Referral.referred_account_id == account)
    if not conditions:
        return None
    return session.scalar(
        select(Referral).where(or_(*conditions)).order_by(Referral.id.desc()).limit(1)
    )


def _account_id_for(session: Session, stripe_customer_id: str | None) -> int | None:
    if not stripe_customer_id:
        return None
    return session.scalar(
        select(Account.id).where(Account.stripe_customer_id == stripe_customer_id)
    )


def _fill_identity(
    referral: Referral, email: str | None, account_id: int | None, customer: str | None
) -> None:
    if email and not referral.referred_email:
        referral.referred_email = email.strip().lower()
    if account_id and not referral.referred_account_id:
        referral.referred_account_id = account_id
    if customer and not referral.referred_stripe_customer_id:
        referral.referred_stripe_customer_id = customer
