"""Bearer-token authentication for the API: hashed tokens, roles admin and rep (read-only)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.crypto import constant_time_equal, hash_token, new_token
from hub.db import db
from hub.errors import ApiError
from hub.models import ApiToken

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def create_token(session: Session, name: str, role: str) -> tuple[ApiToken, str]:
    """Make a token; the plaintext is returned once and only its hash is stored."""
    if role not in ("admin", "rep"):
        raise ValueError("role must be admin or rep")
    plaintext = new_token()
    row = ApiToken(name=name, role=role, token_hash=hash_token(plaintext), prefix=plaintext[:10])
    session.add(row)
    session.flush()
    return row, plaintext


def principal_for(token: str) -> Principal | None:
    """The principal a bearer token stands for, or None."""
    bootstrap = current_app.config["CSHUB"].admin_token
    if bootstrap and constant_time_equal(token, bootstrap):
        return Principal(name="bootstrap-admin", role="admin")
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(name=row.name, role=row.role, token_id=row.id)


def authenticate() -> None:
    """API ``before_request`` hook: 401 without a valid token, 403 for a rep's write."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "a bearer token is required")
    principal = principal_for(token.strip())
    if principal is None:
        raise ApiError(401, "unauthorized", "the token is invalid or revoked")
    if request.method not in READ_METHODS and not principal.is_admin:
        raise ApiError(403, "forbidden", "this token is read-only (role rep)")
    g.principal = principal


def current_actor() -> str:
    principal: Principal | None = g.get("principal")
    return principal.name if principal else "system"
