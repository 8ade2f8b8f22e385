"""Contacts: list with filters and pagination, get, create, update."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import select

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
from hub.models import Account, Contact

blp = api_blueprint("contacts", __name__, "/api/contacts", "Contacts of accounts")

CHANNELS = ("email", "sms", "slack", "inapp", "webhook")


class ContactSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    account_id = fields.Int(required=True)
    salesforce_id = fields.Str(allow_none=True, validate=validate.Length(min=15, max=18))
    mixpanel_distinct_id = fields.Str(allow_none=True)
    email = fields.Email(allow_none=True)
    name = fields.Str(allow_none=True)
    phone = fields.Str(allow_none=True, validate=validate.Regexp(r"^\+[1-9]\d{6,14}$"))
    role = fields.Str(allow_none=True)
    timezone = fields.Str(load_default="UTC")
    unsubscribed = fields.List(fields.Str(validate=validate.OneOf(CHANNELS)), load_default=list)
    attributes = fields.Dict(keys=fields.Str(), load_default=dict)
    created_at = fields.DateTime(dump_only=True)


class ContactPatchSchema(ContactSchema):
    """Any subset of the fields (PATCH)."""


class ContactQuerySchema(StrictSchema):
    account_id = fields.Int()
    email = fields.Str()


@blp.route("")
class Contacts(MethodView):
    @blp.arguments(ContactQuerySchema, location="query")
    @blp.response(200, ContactSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """List contacts, filtered and paginated."""
        stmt = select(Contact).where(Contact.deleted_at.is_(None)).order_by(Contact.id)
        for name, value in filters.items():
            stmt = stmt.where(getattr(Contact, name) == value)
        return stmt

    @blp.arguments(ContactSchema)
    @blp.response(201, ContactSchema)
    def post(self, data):
        """Create a contact on an account."""
        get_or_404(Account, data["account_id"])
        contact = Contact(**data)
        db.session.add(contact)
        flush_or_conflict()
        record(db.session, current_actor(), "contact.create", f"contact:{contact.id}")
        db.session.commit()
        return contact


@blp.route("/<int:contact_id>")
class ContactById(MethodView):
    @blp.response(200, ContactSchema)
    def get(self, contact_id: int):
        """Get one contact."""
        return get_or_404(Contact, contact_id)

    @blp.arguments(ContactPatchSchema(partial=True))
    @blp.response(200, ContactSchema)
    def patch(self, data, contact_id: int):
        """Update some fields of a contact."""
        contact = get_or_404(Contact, contact_id)
        if "account_id" in data:
            get_or_404(Account, data["account_id"])
        for key, value in data.items():
            setattr(contact, key, value)
        flush_or_conflict()
        record(
            db.session,
            current_actor(),
            "contact.update",
            f"contact:{contact.id}",
            fields=sorted(data),
        )
        db.session.commit()
        return contact
