"""The webhook inbox: list and filter deliveries, see one, replay one or a range (202)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate, validates_schema
from redis.exceptions import RedisError
from sqlalchemy import func, select

from hub.api.common import SelectPage, StrictSchema, api_blueprint, get_or_404
from hub.audit import record
from hub.auth import current_actor
from hub.db import db
from hub.errors import ApiError
from hub.ingest import inbox
from hub.models import InboxEvent
from hub.models.inbox import INBOX_STATUSES

blp = api_blueprint("inbox", __name__, "/api/inbox", "Webhook deliveries and their processing")

SOURCES = ("stripe", "mixpanel", "salesforce", "events")


class InboxRowSchema(StrictSchema):
    id = fields.Int()
    source = fields.Str()
    external_id = fields.Str()
    event_type = fields.Str(allow_none=True)
    status = fields.Str()
    attempts = fields.Int()
    last_error = fields.Str(allow_none=True)
    received_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    processed_at = fields.DateTime(allow_none=True)
    job_id = fields.Str(allow_none=True)
    result = fields.Dict(allow_none=True)


class InboxDetailSchema(InboxRowSchema):
    headers = fields.Dict()
    body = fields.Method("_body")

    def _body(self, row: InboxEvent) -> str:
        return bytes(row.body or b"").decode("utf-8", errors="replace")


class InboxQuerySchema(StrictSchema):
    source = fields.Str(validate=validate.OneOf(SOURCES))
    status = fields.Str(validate=validate.OneOf(INBOX_STATUSES))
    event_type = fields.Str()
    external_id = fields.Str()
    since = fields.AwareDateTime(default_timezone=UTC)
    until = fields.AwareDateTime(default_timezone=UTC)


class ReplayRangeSchema(StrictSchema):
    since = fields.AwareDateTime(required=True, default_timezone=UTC)
    until = fields.AwareDateTime(required=True, default_timezone=UTC)
    source = fields.Str(validate=validate.OneOf(SOURCES))
    status = fields.Str(load_default="failed", validate=validate.OneOf(("failed", "ignored")))

    @validates_schema
    def _range(self, data, **_kw) -> None:
        if data["since"] >= data["until"]:
            raise ValidationError("'since' must be before 'until'", "until")


class ReplayAnswerSchema(StrictSchema):
    matched = fields.Int()
    job_id = fields.Str()


def _enqueue_failed(exc: Exception) -> ApiError:
    return ApiError(503, "queue_unavailable", f"the job queue is unavailable: {exc}")


@blp.route("")
class InboxRows(MethodView):
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboxRowSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """List deliveries, newest first, filtered by source, status, type, id or time."""
        stmt = select(InboxEvent).order_by(InboxEvent.id.desc())
        if (since := filters.pop("since", None)) is not None:
            stmt = stmt.where(InboxEvent.received_at >= since)
        if (until := filters.pop("until", None)) is not None:
            stmt = stmt.where(InboxEvent.received_at < until)
        for name, value in filters.items():
            stmt = stmt.where(getattr(InboxEvent, name) == value)
        return stmt


@blp.route("/<int:inbox_id>")
class InboxRow(MethodView):
    @blp.response(200, InboxDetailSchema)
    def get(self, inbox_id: int):
        """One delivery with its stored headers, body and processing result."""
        return get_or_404(InboxEvent, inbox_id)


@blp.route("/<int:inbox_id>/replay")
class InboxReplay(MethodView):
    @blp.response(202, InboxRowSchema)
    def post(self, inbox_id: int):
        """Process one delivery again (processing is idempotent); 409 while it is in flight."""
        row = get_or_404(InboxEvent, inbox_id)
        record(db.session, current_actor(), "inbox.replay", f"inbox:{row.id}", status=row.status)
        try:
            inbox.replay(db.session, row, current_app.config["CSHUB"].inbox_lease_s)
        except inbox.ReplayConflict as exc:
            db.session.rollback()
            raise ApiError(409, "in_flight", str(exc)) from exc
        except RedisError as exc:  # the row is pending again: the sweeper will pick it up
            raise _enqueue_failed(exc) from exc
        return row


@blp.route("/replay")
class InboxReplayRange(MethodView):
    @blp.arguments(ReplayRangeSchema)
    @blp.response(202, ReplayAnswerSchema)
    def post(self, data):
        """Replay every failed (or ignored) delivery received in [since, until)."""
        from jobs.base import enqueue
        from jobs.inbox import replay

        clauses = inbox.replay_filter(
            data["status"], data["since"], data["until"], data.get("source")
        )
        matched = db.session.scalar(select(func.count()).select_from(InboxEvent).where(*clauses))
        since: datetime = data["since"]
        until: datetime = data["until"]
        try:
            job = enqueue(
                replay, data["status"], since.isoformat(), until.isoformat(), data.get("source")
            )
        except RedisError as exc:
            raise _enqueue_failed(exc) from exc
        record(
            db.session,
            current_actor(),
            "inbox.replay_range",
            "inbox",
            status=data["status"],
            since=since.isoformat(),
            until=until.isoformat(),
            source=data.get("source"),
            matched=matched,
        )
        db.session.commit()
        return {"matched": matched, "job_id": job.id}
