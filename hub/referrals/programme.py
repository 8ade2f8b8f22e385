"""Codes and links per contact: made once, looked up by what a person types."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.models import Contact, ReferralCode
from hub.referrals.codes import display, new_code, normalize


def code_for_contact(session: Session, contact: Contact) -> ReferralCode:
    """The contact's referral code, made on first use (unique per contact)."""
    existing = session.scalar(select(ReferralCode).where(ReferralCode.contact_id == contact.id))
    if existing is not None:
        return existing
    for _ in range(5):  # 50 random bits: a collision is a freak event, but never a crash
        row = ReferralCode(code=new_code(), account_id=contact.account_id, contact_id=contact.id)
        try:
            with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            existing = session.scalar(
                select(ReferralCode).where(ReferralCode.contact_id == contact.id)
            )
            if existing is not None:  # another worker made it meanwhile
                return existing
    raise RuntimeError("could not allocate a unique referral code")


def find_code(session: Session, typed: str | None) -> ReferralCode | None:
    """The live code a person typed (forgiving about case and separators), or None."""
    canonical = normalize(typed or "")
    if canonical is None:
        return None
    row = session.scalar(select(ReferralCode).where(ReferralCode.code == canonical))
    if row is None or row.disabled_at is not None:
        return None
    return row


def link_for(code: ReferralCode, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/r/{display(code.code)}"
