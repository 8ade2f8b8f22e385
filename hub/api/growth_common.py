"""Shared by the growth API modules: editable documents (GET/PUT config) and periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validates_schema

from hub.api.common import StrictSchema
from hub.auth import current_actor
from hub.db import db, utcnow
from hub.errors import ApiError
from hub.growth import documents


class GrowthDocumentSchema(StrictSchema):
    version = fields.Int(dump_only=True)
    source = fields.Str(dump_only=True)
    document = fields.Dict(keys=fields.Str())
    yaml = fields.Str(load_only=True, metadata={"description": "the document as YAML text"})

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if ("document" in data) == ("yaml" in data):
            raise ValidationError({"_schema": ["send either 'document' or 'yaml'"]})


class PeriodSchema(StrictSchema):
    since = fields.DateTime(metadata={"description": "default: 90 days ago"})
    until = fields.DateTime(metadata={"description": "default: now"})


def period(args: dict[str, Any]) -> tuple[datetime, datetime]:
    until = args.get("until") or utcnow()
    since = args.get("since") or until - timedelta(days=90)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    if since >= until:
        raise ApiError(422, "bad_period", "'since' must be before 'until'")
    return since, until


def config_routes(blp: Blueprint, kind: str) -> None:
    """GET/PUT ``/config`` for the growth document ``kind`` (versioned, audited)."""

    @blp.route("/config")
    class Config(MethodView):
        @blp.response(200, GrowthDocumentSchema)
        def get(self):
            """The document in force (version 0: the shipped defaults)."""
            version, doc = documents.current(db.session, kind)
            return {
                "version": version,
                "source": "default" if version == 0 else "saved",
                "document": doc,
            }

        @blp.arguments(GrowthDocumentSchema)
        @blp.response(200, GrowthDocumentSchema)
        def put(self, data):
            """Replace the document; it is validated and saved as a new version."""
            raw = data.get("document")
            try:
                if raw is None:
                    raw = documents.load_yaml(data["yaml"])
                row = documents.save(db.session, kind, raw, current_actor())
            except ValidationError as exc:
                db.session.rollback()
                raise ApiError(
                    422, "invalid_document", "the document is not valid", fields=exc.messages
                ) from exc
            db.session.commit()
            return {
                "version": row.version,
                "source": "saved",
                "document": documents.current(db.session, kind)[1],
            }
