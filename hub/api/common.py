"""Pieces every API module shares: an authenticated blueprint, paging, base schemas."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint, Page
from marshmallow import RAISE, Schema
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from hub.auth import authenticate
from hub.db import db
from hub.errors import ApiError


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A blueprint whose every route needs a bearer token (reps may only read)."""
    blp = Blueprint(name, import_name, url_prefix=url_prefix, description=description)
    blp.before_request(authenticate)
    return blp


class StrictSchema(Schema):
    """Unknown fields are an error (422), never silently dropped."""

    class Meta:
        unknown = RAISE


class SelectPage(Page):
    """flask-smorest page over a SQLAlchemy ``select``: counts and slices in SQL."""

    @property
    def items(self) -> list[Any]:
        stmt: Select = self.collection
        return list(
            db.session.scalars(
                stmt.offset(self.page_params.first_item).limit(self.page_params.page_size)
            )
        )

    @property
    def item_count(self) -> int:
        stmt: Select = self.collection
        return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def get_or_404(model, ident: int):
    row = db.session.get(model, ident)
    if row is None:
        raise ApiError(404, "not_found", f"{model.__name__} {ident} does not exist")
    return row


def flush_or_conflict() -> None:
    """Flush pending changes; a unique-key clash becomes 409 instead of a 500."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise ApiError(409, "conflict", "a record with the same unique id exists") from exc
