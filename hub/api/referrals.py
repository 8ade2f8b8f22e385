"""Referral programme: codes and links, referrals, the reward ledger, config, funnel and ROI."""

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
from hub.models import Contact, Referral, ReferralCode, RewardLedgerEntry
from hub.referrals import attribution
from hub.referrals import config as _config  # noqa: F401  (registers the document kind)
from hub.referrals.codes import display
from hub.referrals.invites import invite
from hub.referrals.metrics import funnel, programme_roi
from hub.referrals.programme import code_for_contact, link_for

blp = api_blueprint("referrals", __name__, "/api/referrals", "Referral programme")
config_routes(blp, "referrals")


def _base_url() -> str:
    return current_app.config["CSHUB"].base_url


class CodeSchema(StrictSchema):
    id = fields.Int()
    code = fields.Method("_display")
    link = fields.Method("_link")
    account_id = fields.Int()
    contact_id = fields.Int(allow_none=True)
    clicks = fields.Int()
    invited_at = fields.DateTime(allow_none=True)
    disabled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()

    def _display(self, row: ReferralCode) -> str:
        return display(row.code)

    def _link(self, row: ReferralCode) -> str:
        return link_for(row, _base_url())


class CodeCreateSchema(StrictSchema):
    contact_id = fields.Int(required=True)


class CodeQuerySchema(StrictSchema):
    account_id = fields.Int()
    contact_id = fields.Int()


class ReferralSchema(StrictSchema):
    id = fields.Int()
    code_id = fields.Int()
    referred_account_id = fields.Int(allow_none=True)
    referred_email = fields.Str(allow_none=True)
    referred_stripe_customer_id = fields.Str(allow_none=True)
    source = fields.Str(allow_none=True)
    status = fields.Str()
    rejection_reason = fields.Str(allow_none=True)
    revenue = fields.Float()
    clicked_at = fields.DateTime(allow_none=True)
    signed_up_at = fields.DateTime(allow_none=True)
    converted_at = fields.DateTime(allow_none=True)


class ReferralQuerySchema(StrictSchema):
    status = fields.Str()
    code_id = fields.Int()
    referred_account_id = fields.Int()


class SignupSchema(StrictSchema):
    code = fields.Str(validate=validate.Length(max=40))
    click_token = fields.Str(validate=validate.Length(max=64))
    email = fields.Email()
    account_id = fields.Int()
    stripe_customer_id = fields.Str(validate=validate.Length(max=64))


class LedgerSchema(StrictSchema):
    id = fields.Int()
    idempotency_key = fields.Str()
    referral_id = fields.Int(allow_none=True)
    account_id = fields.Int()
    role = fields.Str()
    kind = fields.Str()
    amount = fields.Float()
    currency = fields.Str()
    status = fields.Str()
    stripe_object_id = fields.Str(allow_none=True)
    hold_until = fields.DateTime(allow_none=True)
    attempts = fields.Int()
    last_error = fields.Str(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime()
    granted_at = fields.DateTime(allow_none=True)
    reversed_at = fields.DateTime(allow_none=True)


class LedgerQuerySchema(StrictSchema):
    status = fields.Str()
    account_id = fields.Int()
    referral_id = fields.Int()
    role = fields.Str(validate=validate.OneOf(("referrer", "referred")))


class InviteSchema(StrictSchema):
    contact_id = fields.Int(required=True)


@blp.route("/codes")
class Codes(MethodView):
    @blp.arguments(CodeQuerySchema, location="query")
    @blp.response(200, CodeSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """List referral codes with their links and click counts."""
        stmt = select(ReferralCode).order_by(ReferralCode.id)
        for name, value in filters.items():
            stmt = stmt.where(getattr(ReferralCode, name) == value)
        return stmt

    @blp.arguments(CodeCreateSchema)
    @blp.response(200, CodeSchema)
    def post(self, data):
        """The contact's code and link (made on first request)."""
        contact = get_or_404(Contact, data["contact_id"])
        if contact.deleted_at is not None:
            raise ApiError(409, "contact_deleted", "the contact is deleted")
        code = code_for_contact(db.session, contact)
        record(db.session, current_actor(), "referral_code.get", f"contact:{contact.id}")
        db.session.commit()
        return code


@blp.route("/codes/<int:code_id>/disable")
class DisableCode(MethodView):
    @blp.response(200, CodeSchema)
    def post(self, code_id: int):
        """Stop a code from attributing new signups (existing referrals keep their state)."""
        code = get_or_404(ReferralCode, code_id)
        code.disabled_at = code.disabled_at or utcnow()
        record(db.session, current_actor(), "referral_code.disable", f"referral_code:{code.id}")
        db.session.commit()
        return code


@blp.route("/invite")
class Invite(MethodView):
    @blp.arguments(InviteSchema)
    def post(self, data):
        """Invite one contact to refer now (still once per invitation window)."""
        contact = get_or_404(Contact, data["contact_id"])
        queued = invite(db.session, contact, "manual", utcnow(), _base_url())
        record(db.session, current_actor(), "referral.invite", f"contact:{contact.id}")
        db.session.commit()
        return {"queued": queued}


@blp.route("")
class Referrals(MethodView):
    @blp.arguments(ReferralQuerySchema, location="query")
    @blp.response(200, ReferralSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """List referrals, newest first."""
        stmt = select(Referral).order_by(Referral.id.desc())
        for name, value in filters.items():
            stmt = stmt.where(getattr(Referral, name) == value)
        return stmt


@blp.route("/signups")
class Signups(MethodView):
    @blp.arguments(SignupSchema)
    def post(self, data):
        """Attribute a signup to a typed code or a click (the product's alternative to the
        ``account.signup`` webhook)."""
        if not data.get("code") and not data.get("click_token"):
            raise ApiError(422, "no_referral", "send 'code' or 'click_token'")
        outcome = attribution.record_signup(
            db.session,
            data.get("code"),
            now=utcnow(),
            email=data.get("email"),
            account_id=data.get("account_id"),
            stripe_customer_id=data.get("stripe_customer_id"),
            click_token=data.get("click_token"),
            source="api",
        )
        if outcome.status == "unknown_code":
            db.session.rollback()
            raise ApiError(404, "unknown_code", "no live referral code or click matches")
        db.session.commit()
        return outcome.as_dict()


@blp.route("/rewards")
class Rewards(MethodView):
    @blp.arguments(LedgerQuerySchema, location="query")
    @blp.response(200, LedgerSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """The reward ledger, newest first."""
        stmt = select(RewardLedgerEntry).order_by(RewardLedgerEntry.id.desc())
        for name, value in filters.items():
            stmt = stmt.where(getattr(RewardLedgerEntry, name) == value)
        return stmt


@blp.route("/rewards/<int:entry_id>/paid")
class RewardPaid(MethodView):
    @blp.response(200, LedgerSchema)
    def post(self, entry_id: int):
        """Record that a cash bonus was paid out by a person."""
        entry = get_or_404(RewardLedgerEntry, entry_id)
        if entry.status != "payout_due":
            raise ApiError(409, "not_payout_due", f"the reward is {entry.status}")
        entry.status = "paid"
        entry.granted_at = utcnow()
        record(db.session, current_actor(), "reward.paid", f"reward:{entry.id}")
        db.session.commit()
        return entry


@blp.route("/rewards/<int:entry_id>/retry")
class RewardRetry(MethodView):
    @blp.response(202, LedgerSchema)
    def post(self, entry_id: int):
        """Put a failed reward back in the queue (same idempotency key: still paid once)."""
        from jobs.base import enqueue
        from jobs.growth import grant_reward

        entry = get_or_404(RewardLedgerEntry, entry_id)
        if entry.status != "failed":
            raise ApiError(409, "not_failed", f"the reward is {entry.status}")
        entry.status = "granting"  # a call may have reached Stripe: reconcile first
        record(db.session, current_actor(), "reward.retry", f"reward:{entry.id}")
        db.session.commit()
        enqueue(grant_reward, entry.id)
        return entry


@blp.route("/metrics")
class ReferralMetrics(MethodView):
    @blp.arguments(PeriodSchema, location="query")
    def get(self, args):
        """The measured funnel and programme ROI for the period."""
        since, until = period(args)
        return {
            "period": {"since": since.isoformat(), "until": until.isoformat()},
            "measured": True,
            "funnel": funnel(db.session, since, until),
            "programme": programme_roi(db.session, since, until),
        }
