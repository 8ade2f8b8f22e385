"""In-app messages for the product: the messages of a contact and their read receipts.

The product calls ``GET /api/inapp/<contact_id>`` (bearer token) to show messages and
``POST /api/inapp/<contact_id>/<message_id>/read`` when the user has seen one.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import select

from hub.api.common import StrictSchema, api_blueprint, get_or_404
from hub.db import db, utcnow
from hub.errors import ApiError
from hub.models import Contact, Event, OutboxMessage

blp = api_blueprint("inapp", __name__, "/api/inapp", "In-app messages for the product")


class InAppQuerySchema(StrictSchema):
    unread = fields.Bool(load_default=False)
    limit = fields.Int(load_default=50)


class InAppMessageSchema(StrictSchema):
    id = fields.Int()
    subject = fields.Str(allow_none=True)
    body = fields.Str(allow_none=True)
    playbook_key = fields.Str(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    read_at = fields.DateTime(allow_none=True)


@blp.route("/<int:contact_id>")
class InAppMessages(MethodView):
    @blp.arguments(InAppQuerySchema, location="query")
    @blp.response(200, InAppMessageSchema(many=True))
    def get(self, query, contact_id: int):
        """The contact's delivered in-app messages, newest first."""
        get_or_404(Contact, contact_id)
        stmt = (
            select(OutboxMessage)
            .where(
                OutboxMessage.contact_id == contact_id,
                OutboxMessage.channel == "inapp",
                OutboxMessage.status == "sent",
            )
            .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
            .limit(max(1, min(query["limit"], 200)))
        )
        if query["unread"]:
            stmt = stmt.where(OutboxMessage.read_at.is_(None))
        return list(db.session.scalars(stmt))


@blp.route("/<int:contact_id>/<int:message_id>/read")
class ReadReceipt(MethodView):
    @blp.response(200, InAppMessageSchema)
    def post(self, contact_id: int, message_id: int):
        """Record that the contact has seen the message (the first receipt counts)."""
        message = get_or_404(OutboxMessage, message_id)
        if message.contact_id != contact_id or message.channel != "inapp":
            raise ApiError(
                404, "not_found", f"contact {contact_id} has no in-app message {message_id}"
            )
        if message.status != "sent":
            raise ApiError(409, "not_delivered", "the message has not been delivered yet")
        if message.read_at is None:
            message.read_at = utcnow()
            db.session.add(
                Event(
                    account_id=message.account_id,
                    contact_id=contact_id,
                    name="inapp_read",
                    occurred_at=message.read_at,
                    properties={"message_id": message.id, "playbook": message.playbook_key},
                    source="hub",
                    source_event_id=f"inapp_read:{message.id}",
                )
            )
            db.session.commit()
        return message
