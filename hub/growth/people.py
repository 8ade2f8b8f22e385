"""Who a growth message goes to: an account's primary contact, reachable on a channel."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Contact

ROLE_ORDER = ("owner", "admin", "finance", "operator", "analyst", "it")


def reachable(contact: Contact, channel: str) -> bool:
    """Whether ``contact`` can be reached on ``channel`` (address known, not unsubscribed)."""
    if contact.deleted_at is not None or channel in (contact.unsubscribed or []):
        return False
    if channel == "email":
        return bool(contact.email)
    if channel == "sms":
        return bool(contact.phone)
    return True


def contacts_of(session: Session, account_id: int) -> list[Contact]:
    """The account's live contacts, the most senior role first."""
    rows = list(
        session.scalars(
            select(Contact)
            .where(Contact.account_id == account_id, Contact.deleted_at.is_(None))
            .order_by(Contact.id)
        )
    )

    def rank(c: Contact) -> tuple[int, int]:
        role = (c.role or "").lower()
        return (ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER), c.id)

    return sorted(rows, key=rank)


def primary_contact(session: Session, account_id: int, channel: str = "email") -> Contact | None:
    for contact in contacts_of(session, account_id):
        if reachable(contact, channel):
            return contact
    return None
