"""In-app messages: stored in the hub (the outbox row is the message) and served to the
product by ``GET /api/inapp/<contact>``; the product posts a read receipt back.

"Sending" makes the message visible: its rendered subject and text are kept on the row.
Delivery is local, so an interrupted send is safely repeated (idempotent).
"""

from __future__ import annotations

from integrations.channels.base import CUSTOMER, Channel, Delivery, Envelope
from integrations.channels.render import render_blocks, render_string
from integrations.errors import FatalError, SkippableError


class InAppChannel(Channel):
    name = "inapp"
    title = "In-app message"
    audience = CUSTOMER
    spec = None
    idempotent_delivery = True

    def send(self, envelope: Envelope) -> Delivery:
        if envelope.contact is None:
            raise SkippableError("an in-app message needs a contact")
        context = {
            "account": envelope.account,
            "contact": envelope.contact,
            "segment": envelope.account.get("segment"),
            "first_name": (envelope.contact.get("name") or "there").split()[0],
            "params": dict(envelope.payload.get("params") or {}),
            "detail": dict(envelope.payload.get("detail") or {}),
        }
        if envelope.template:
            blocks = render_blocks(
                "inapp", envelope.template, envelope.account.get("segment"), "txt", context
            )
            if blocks is None:
                raise FatalError(f"no in-app template named {envelope.template!r}")
            subject, body = blocks.get("subject", ""), blocks.get("body", blocks["_full"])
        else:
            subject = render_string(envelope.subject, context) or ""
            body = render_string(envelope.body, context) or ""
        return Delivery(external_id=f"inapp-{envelope.message_id}", subject=subject, body=body)


CHANNELS = (InAppChannel,)
