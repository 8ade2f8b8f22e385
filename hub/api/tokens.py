"""API tokens: list, create (the plaintext is shown once), revoke. Admin only."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import select

from hub.api.common import StrictSchema, api_blueprint, get_or_404
from hub.audit import record
from hub.auth import create_token, current_actor
from hub.db import db, utcnow
from hub.errors import ApiError
from hub.models import ApiToken

blp = api_blueprint("tokens", __name__, "/api/tokens", "API tokens (admin only)")


@blp.before_request
def admins_only() -> None:
    if not g.principal.is_admin:
        raise ApiError(403, "forbidden", "managing tokens needs an admin token")


class TokenSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    role = fields.Str(required=True, validate=validate.OneOf(["admin", "rep"]))
    prefix = fields.Str(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True)
    revoked_at = fields.DateTime(dump_only=True)


class NewTokenSchema(TokenSchema):
    token = fields.Str(dump_only=True, metadata={"description": "shown once, store it now"})


@blp.route("")
class Tokens(MethodView):
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """List tokens (never their values)."""
        return db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()

    @blp.arguments(TokenSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data):
        """Create a token; the response holds its only plaintext copy."""
        row, plaintext = create_token(db.session, data["name"], data["role"])
        record(db.session, current_actor(), "token.create", f"token:{row.id}", role=row.role)
        db.session.commit()
        row.token = plaintext  # transient: dumped once, never stored
        return row


@blp.route("/<int:token_id>")
class TokenById(MethodView):
    @blp.response(204)
    def delete(self, token_id: int):
        """Revoke a token; it answers 401 from now on."""
        row = get_or_404(ApiToken, token_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            record(db.session, current_actor(), "token.revoke", f"token:{row.id}")
            db.session.commit()
