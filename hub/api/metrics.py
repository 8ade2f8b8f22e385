"""KPIs: GET /api/metrics (from the daily roll-up when it covers the window), POST
/api/metrics/refresh (202, enqueues the roll-up), GET/PUT /api/metrics/settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import request
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate, validates_schema

from hub import metrics
from hub.api.common import StrictSchema, api_blueprint
from hub.auth import current_actor
from hub.db import db
from hub.errors import ApiError
from hub.models.account import SEGMENTS

blp = api_blueprint("metrics", __name__, "/api/metrics", "KPIs against their targets")

MAX_RANGE_DAYS = 3 * 366


class MetricsQuerySchema(StrictSchema):
    start = fields.Date(data_key="from", metadata={"description": "first day (UTC), inclusive"})
    end = fields.Date(data_key="to", metadata={"description": "last day (UTC), inclusive"})
    segment = fields.Str(validate=validate.OneOf([metrics.ALL, *SEGMENTS]))

    @validates_schema
    def check_range(self, data, **_kwargs) -> None:
        start, end = data.get("start"), data.get("end")
        if (start is None) != (end is None):
            raise ValidationError("give both from and to, or neither", "from")
        if start and end:
            if end < start:
                raise ValidationError("must not be after to", "from")
            if (end - start).days >= MAX_RANGE_DAYS:
                raise ValidationError(f"the range may span at most {MAX_RANGE_DAYS} days", "from")


class RefreshSchema(StrictSchema):
    day = fields.Date(metadata={"description": "the day the roll-up window ends (default today)"})


def _enqueue_rollup(day):
    """Queue the roll-up of the window ending ``day`` (one job id per day: no duplicates)."""
    from jobs.base import enqueue
    from jobs.kpis import rollup_daily

    return enqueue(rollup_daily, day.isoformat(), job_id=f"kpi-rollup-{day.isoformat()}")


@blp.route("")
class Metrics(MethodView):
    @blp.arguments(MetricsQuerySchema, location="query")
    @blp.response(200)
    def get(self, args):
        """Every KPI for the window and segment, beside its target.

        Without from/to: the latest roll-up's 30-day window. A value of null means no data.
        ``source`` says whether the figures come from the daily roll-up or were computed now.
        A large tenant without any roll-up gets 202: the roll-up is queued; ask again later.
        """
        segment = args.get("segment")
        segment = None if segment in (None, metrics.ALL) else segment
        period = metrics.Period(args["start"], args["end"]) if "start" in args else None
        settings = metrics.load_settings(db.session)
        try:
            loaded = metrics.load(db.session, period, segment, settings)
        except metrics.RollupPending as exc:
            day = datetime.now(UTC).date()
            job = _enqueue_rollup(day)
            return {
                "status": "queued",
                "job_id": job.id,
                "day": day.isoformat(),
                "message": str(exc),
            }, 202
        doc = metrics.present(loaded.figures, settings, loaded.history)
        doc["source"] = loaded.source
        doc["computed_at"] = loaded.computed_at.isoformat()
        return doc


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema, required=False)
    @blp.response(202)
    def post(self, args):
        """Recompute the roll-up in the background; poll GET /api/metrics for the result."""
        day = (args or {}).get("day") or datetime.now(UTC).date()
        if day > datetime.now(UTC).date() + timedelta(days=1):
            raise ApiError(422, "validation_error", "day is in the future")
        queued = _enqueue_rollup(day)
        return {"job_id": queued.id, "day": day.isoformat(), "status": "queued"}


@blp.route("/settings")
class Settings(MethodView):
    @blp.response(200)
    def get(self):
        """Targets, ROI inputs and definitions in force (defaults with the admin's changes)."""
        return metrics.load_settings(db.session)

    @blp.response(200)
    def put(self):
        """Change some targets or ROI inputs: ``{"targets": {...}, "roi": {...}}``."""
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            raise ApiError(400, "bad_request", "the body must be a JSON object")
        try:
            doc = metrics.save_settings(db.session, payload, current_actor())
        except metrics.SettingsError as exc:
            db.session.rollback()
            raise ApiError(
                422, "validation_error", "the request has invalid fields", fields=exc.fields
            ) from exc
        db.session.commit()
        return doc
