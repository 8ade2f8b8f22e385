"""The outbox: every message with its delivery status, failures visible, re-send; channels."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import func, select

from hub.api.common import SelectPage, StrictSchema, api_blueprint, get_or_404
from hub.auth import current_actor
from hub.db import db
from hub.errors import ApiError
from hub.models import OutboxMessage
from hub.models.outbox import OUTBOX_STATUSES
from hub.playbooks.outbox import RESENDABLE, resend

blp = api_blueprint("outbox", __name__, "/api/outbox", "Outgoing messages and channels")


class OutboxSchema(StrictSchema):
    id = fields.Int()
    idempotency_key = fields.Str()
    channel = fields.Str()
    account_id = fields.Int(allow_none=True)
    contact_id = fields.Int(allow_none=True)
    enrolment_id = fields.Int(allow_none=True)
    playbook_key = fields.Str(allow_none=True)
    step_key = fields.Str(allow_none=True)
    template = fields.Str(allow_none=True)
    subject = fields.Str(allow_none=True)
    status = fields.Str()
    attempts = fields.Int()
    last_error = fields.Str(allow_none=True)
    external_id = fields.Str(allow_none=True)
    due_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    opened_at = fields.DateTime(allow_none=True)
    clicked_at = fields.DateTime(allow_none=True)
    read_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class OutboxDetailSchema(OutboxSchema):
    body = fields.Str(allow_none=True)
    payload = fields.Dict()


class OutboxQuerySchema(StrictSchema):
    status = fields.Str(validate=validate.OneOf(OUTBOX_STATUSES))
    channel = fields.Str()
    account_id = fields.Int()
    contact_id = fields.Int()
    playbook_key = fields.Str()


@blp.route("")
class Outbox(MethodView):
    @blp.arguments(OutboxQuerySchema, location="query")
    @blp.response(200, OutboxSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """Messages, newest first, filtered by status, channel, account, contact, playbook."""
        stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc())
        for name, value in filters.items():
            stmt = stmt.where(getattr(OutboxMessage, name) == value)
        return stmt


@blp.route("/summary")
class Summary(MethodView):
    def get(self):
        """Message counts by status and channel (failures at a glance)."""
        rows = db.session.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                OutboxMessage.channel, OutboxMessage.status
            )
        ).all()
        by_status: dict[str, int] = {}
        by_channel: dict[str, dict[str, int]] = {}
        for channel, status, n in rows:
            by_status[status] = by_status.get(status, 0) + n
            by_channel.setdefault(channel, {})[status] = n
        return {"by_status": by_status, "by_channel": by_channel}


@blp.route("/channels")
class Channels(MethodView):
    def get(self):
        """Every channel type, enabled or not, with the reason when it is not."""
        from flask import current_app

        from hub.settings import effective, get_spec
        from integrations.channels import channel_types, describe

        config = current_app.config["CSHUB"]
        settings_of = {}
        for cls in channel_types().values():
            spec = get_spec(cls.spec) if cls.spec else None
            if spec is not None:
                settings_of[cls.spec] = effective(db.session, spec, config)
        return {"items": describe(settings_of)}


@blp.route("/<int:message_id>")
class OutboxById(MethodView):
    @blp.response(200, OutboxDetailSchema)
    def get(self, message_id: int):
        """One message with its rendered body and payload."""
        return get_or_404(OutboxMessage, message_id)


@blp.route("/<int:message_id>/resend")
class Resend(MethodView):
    @blp.response(200, OutboxSchema)
    def post(self, message_id: int):
        """Queue a failed, suppressed or sent message again (audited)."""
        message = get_or_404(OutboxMessage, message_id)
        if message.status not in RESENDABLE:
            raise ApiError(
                409,
                "not_resendable",
                f"a {message.status} message cannot be re-sent; re-send one of: "
                + ", ".join(RESENDABLE),
            )
        resend(db.session, message, current_actor())
        db.session.commit()
        return message
