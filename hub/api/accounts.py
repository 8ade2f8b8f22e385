"""Accounts: list with filters and pagination, get, create, update."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import or_, select

from hub.api.common import (
    SelectPage,
    StrictSchema,
    api_blueprint,
    flush_or_conflict,
    get_or_404,
)
from hub.audit import record
from hub.auth import current_actor
from hub.db import db
from hub.models import Account
from hub.models.account import LIFECYCLE_STAGES, SEGMENTS, STATUSES

blp = api_blueprint("accounts", __name__, "/api/accounts", "Customer accounts")


class AccountSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    salesforce_id = fields.Str(allow_none=True, validate=validate.Length(min=15, max=18))
    stripe_customer_id = fields.Str(allow_none=True)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    domain = fields.Str(allow_none=True)
    segment = fields.Str(load_default="individual_miner", validate=validate.OneOf(SEGMENTS))
    plan = fields.Str(allow_none=True)
    mrr = fields.Float(load_default=0, validate=validate.Range(min=0))
    currency = fields.Str(load_default="USD", validate=validate.Length(equal=3))
    signup_date = fields.Date(allow_none=True)
    renewal_date = fields.Date(allow_none=True)
    churned_at = fields.DateTime(dump_only=True)
    owner_email = fields.Email(allow_none=True)
    lifecycle_stage = fields.Str(
        load_default="onboarding", validate=validate.OneOf(LIFECYCLE_STAGES)
    )
    status = fields.Str(load_default="active", validate=validate.OneOf(STATUSES))
    timezone = fields.Str(load_default="UTC")
    attributes = fields.Dict(keys=fields.Str(), load_default=dict)
    cohorts = fields.List(fields.Str(), dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class AccountPatchSchema(AccountSchema):
    """Any subset of the fields (PATCH)."""


class AccountQuerySchema(StrictSchema):
    q = fields.Str(metadata={"description": "search in name and domain"})
    segment = fields.Str(validate=validate.OneOf(SEGMENTS))
    status = fields.Str(validate=validate.OneOf(STATUSES))
    lifecycle_stage = fields.Str(validate=validate.OneOf(LIFECYCLE_STAGES))
    owner_email = fields.Str()


@blp.route("")
class Accounts(MethodView):
    @blp.arguments(AccountQuerySchema, location="query")
    @blp.response(200, AccountSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """List accounts, filtered and paginated (page, page_size; X-Pagination header)."""
        stmt = select(Account).where(Account.deleted_at.is_(None)).order_by(Account.id)
        if q := filters.pop("q", None):
            like = f"%{q}%"
            stmt = stmt.where(or_(Account.name.ilike(like), Account.domain.ilike(like)))
        for name, value in filters.items():
            stmt = stmt.where(getattr(Account, name) == value)
        return stmt

    @blp.arguments(AccountSchema)
    @blp.response(201, AccountSchema)
    def post(self, data):
        """Create an account."""
        account = Account(**data)
        db.session.add(account)
        flush_or_conflict()
        record(db.session, current_actor(), "account.create", f"account:{account.id}")
        db.session.commit()
        return account


@blp.route("/<int:account_id>")
class AccountById(MethodView):
    @blp.response(200, AccountSchema)
    def get(self, account_id: int):
        """Get one account."""
        return get_or_404(Account, account_id)

    @blp.arguments(AccountPatchSchema(partial=True))
    @blp.response(200, AccountSchema)
    def patch(self, data, account_id: int):
        """Update some fields of an account."""
        account = get_or_404(Account, account_id)
        for key, value in data.items():
            setattr(account, key, value)
        flush_or_conflict()
        record(
            db.session,
            current_actor(),
            "account.update",
            f"account:{account.id}",
            fields=sorted(data),
        )
        db.session.commit()
        return account
