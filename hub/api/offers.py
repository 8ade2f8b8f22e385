"""Offers: list and inspect, record a view/acceptance/decline, rules document, measured rates."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import select

from hub.api.common import SelectPage, StrictSchema, api_blueprint, get_or_404
from hub.api.growth_common import PeriodSchema, config_routes, period
from hub.audit import record
from hub.auth import current_actor
from hub.db import db, utcnow
from hub.errors import ApiError
from hub.models import Offer
from hub.offers import config as _config  # noqa: F401  (registers the document kind)
from hub.offers.metrics import offer_metrics
from hub.offers.tracking import InvalidTransition, transition

blp = api_blueprint("offers", __name__, "/api/offers", "Upsell, cross-sell and service offers")
config_routes(blp, "offers")

STATUSES = ("offered", "viewed", "accepted", "declined", "expired")


class OfferSchema(StrictSchema):
    id = fields.Int()
    account_id = fields.Int()
    contact_id = fields.Int(allow_none=True)
    rule_key = fields.Str()
    kind = fields.Str()
    window_key = fields.Str()
    status = fields.Str()
    target_plan = fields.Str(allow_none=True)
    details = fields.Dict()
    salesforce_id = fields.Str(allow_none=True)
    offered_at = fields.DateTime()
    viewed_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)


class OfferQuerySchema(StrictSchema):
    account_id = fields.Int()
    status = fields.Str(validate=validate.OneOf(STATUSES))
    rule_key = fields.Str()
    kind = fields.Str(validate=validate.OneOf(("upsell", "cross_sell", "service")))


class StatusSchema(StrictSchema):
    status = fields.Str(required=True, validate=validate.OneOf(("viewed", "accepted", "declined")))
    note = fields.Str(validate=validate.Length(max=1000))


@blp.route("")
class Offers(MethodView):
    @blp.arguments(OfferQuerySchema, location="query")
    @blp.response(200, OfferSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """List offers, newest first."""
        stmt = select(Offer).order_by(Offer.offered_at.desc(), Offer.id.desc())
        for name, value in filters.items():
            stmt = stmt.where(getattr(Offer, name) == value)
        return stmt


@blp.route("/<int:offer_id>")
class OfferById(MethodView):
    @blp.response(200, OfferSchema)
    def get(self, offer_id: int):
        """One offer with its evidence and history."""
        return get_or_404(Offer, offer_id)


@blp.route("/<int:offer_id>/status")
class OfferStatus(MethodView):
    @blp.arguments(StatusSchema)
    @blp.response(200, OfferSchema)
    def post(self, data, offer_id: int):
        """Record that the customer viewed, accepted or declined the offer."""
        offer = get_or_404(Offer, offer_id)
        detail = {"note": data["note"]} if data.get("note") else {}
        try:
            transition(
                offer, data["status"], utcnow(), f"api:{current_actor()}", detail, db.session
            )
        except InvalidTransition as exc:
            raise ApiError(409, "invalid_transition", str(exc)) from exc
        record(db.session, current_actor(), f"offer.{data['status']}", f"offer:{offer.id}")
        db.session.commit()
        return offer


@blp.route("/metrics")
class OfferMetrics(MethodView):
    @blp.arguments(PeriodSchema, location="query")
    def get(self, args):
        """Measured counts and rates per rule and kind for offers made in the period."""
        since, until = period(args)
        return offer_metrics(db.session, since, until)


@blp.route("/evaluate")
class Evaluate(MethodView):
    @blp.response(202)
    def post(self):
        """Queue an evaluation of every rule over every account now (answers the job id)."""
        from jobs.base import enqueue
        from jobs.growth import evaluate_offers

        job = enqueue(evaluate_offers)
        current_app.logger.info("offers evaluation queued", extra={"job_id": job.id})
        return {"job_id": job.id}
