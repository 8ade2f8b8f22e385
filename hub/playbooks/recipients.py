"""Who a step's message goes to: the primary contact (the one who triggered it first, e.g.
the NPS respondent), everyone, contacts in a role; team channels take the primary contact
for context only. A contact without the channel's address (e-mail, phone) is skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.channels.base import CUSTOMER

if TYPE_CHECKING:
    from hub.playbooks.facts import ContactFacts
    from hub.playbooks.journey import Journey

ADDRESS = {"email": "email", "sms": "phone"}
MAX_RECIPIENTS = 10


def primary_contact(j: Journey, channel: str | None) -> ContactFacts | None:
    wanted = (j.state.get("trigger") or {}).get("contact_id")
    contacts = j.f.contacts
    if wanted:
        contacts = sorted(contacts, key=lambda c: c.id != wanted)
    for c in contacts:
        if channel is None or channel not in ADDRESS or getattr(c, ADDRESS[channel]):
            return c
    return None


def recipients(j: Journey, to: str, channel: str, audience: str) -> list:
    if audience != CUSTOMER:
        return [primary_contact(j, None)]
    if to == "all":
        found = [c for c in j.f.contacts if channel not in ADDRESS or getattr(c, ADDRESS[channel])]
        return found[:MAX_RECIPIENTS]
    if to.startswith("role:"):
        role = to.split(":", 1)[1]
        found = [c for c in j.f.contacts if c.role == role]
        return [c for c in found if channel not in ADDRESS or getattr(c, ADDRESS[channel])][
            :MAX_RECIPIENTS
        ]
    primary = primary_contact(j, channel)
    return [primary] if primary else []
