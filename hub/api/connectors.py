"""Metric connectors: types, configurations (secrets write-only), check, run (202).

- ``GET /api/connectors/types``: every type with its settings schema (secrets marked), a
  disabled type with the reason;
- ``GET/POST /api/connectors``, ``GET/PATCH/DELETE /api/connectors/<id>``: settings are
  validated by the type's schema; secret settings are stored encrypted and read back as
  ``********``; writing ``********`` (or leaving a secret out) keeps the stored one;
- ``POST /api/connectors/<id>/check``: test the connection now;
- ``POST /api/connectors/<id>/run``: enqueue a run, answer 202 with the job id.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate
from redis.exceptions import RedisError
from sqlalchemy import select

from hub.api.common import SelectPage, StrictSchema, api_blueprint, flush_or_conflict, get_or_404
from hub.audit import record
from hub.auth import current_actor
from hub.crypto import PLACEHOLDER
from hub.db import db, utcnow
from hub.errors import ApiError
from hub.models import Account, ConnectorConfig

blp = api_blueprint(
    "connectors",
    __name__,
    "/api/connectors",
    "Metric connectors: mining rigs, pools, exchange portfolios, HTTP JSON feeds",
)


def masked_settings(row: ConnectorConfig) -> dict[str, Any]:
    """Stored settings with every stored secret shown as the placeholder."""
    masked = dict(row.settings or {})
    masked.update(dict.fromkeys(row.secrets or {}, PLACEHOLDER))
    return masked


class ConnectorOutSchema(StrictSchema):
    id = fields.Int()
    type = fields.Str()
    name = fields.Str()
    account_id = fields.Int(allow_none=True)
    schedule_minutes = fields.Int()
    enabled = fields.Bool()
    settings = fields.Function(masked_settings, metadata={"description": "secrets masked"})
    status = fields.Str()
    last_run_at = fields.DateTime(allow_none=True)
    last_error = fields.Str(allow_none=True)
    last_stats = fields.Dict()
    created_at = fields.DateTime()


class ConnectorSchema(StrictSchema):
    type = fields.Str(required=True)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    account_id = fields.Int(allow_none=True, load_default=None)
    schedule_minutes = fields.Int(load_default=15, validate=validate.Range(min=1, max=10080))
    enabled = fields.Bool(load_default=True)
    settings = fields.Dict(keys=fields.Str(), required=True)


class ConnectorPatchSchema(StrictSchema):
    name = fields.Str(validate=validate.Length(min=1, max=255))
    account_id = fields.Int(allow_none=True)
    schedule_minutes = fields.Int(validate=validate.Range(min=1, max=10080))
    enabled = fields.Bool()
    settings = fields.Dict(keys=fields.Str())


class ConnectorQuerySchema(StrictSchema):
    type = fields.Str()
    status = fields.Str(validate=validate.OneOf(["new", "healthy", "unhealthy"]))
    account_id = fields.Int()


def _type(type_name: str, *, for_write: bool):
    from integrations.connectors import registry

    info = registry.get(type_name)
    if info is None:
        raise ApiError(
            422,
            "validation_error",
            f"unknown connector type {type_name!r}",
            fields={"type": ["unknown connector type"]},
        )
    if for_write and not info.enabled:
        raise ApiError(422, "type_disabled", f"{type_name} is disabled: {info.reason}")
    return info


def _split(info, values: dict[str, Any], old_secrets: dict[str, Any] | None):
    """Validate ``values`` (secrets may be the placeholder); return (settings, secrets)."""
    secret_keys = info.cls.secret_keys() if info.cls else frozenset()
    merged = dict(values)
    for key in secret_keys:
        if merged.get(key) in (None, PLACEHOLDER):
            if old_secrets and old_secrets.get(key):
                merged[key] = old_secrets[key]
            else:
                merged.pop(key, None)
    try:
        info.cls.spec().load(merged)
    except ValidationError as exc:
        raise ApiError(
            422, "validation_error", "the settings are invalid", fields={"settings": exc.messages}
        ) from exc
    settings = {k: v for k, v in merged.items() if k not in secret_keys}
    secrets = {k: merged[k] for k in secret_keys if merged.get(k) not in (None, "")}
    return settings, secrets


def _check_account(account_id: int | None) -> None:
    if account_id is not None and db.session.get(Account, account_id) is None:
        raise ApiError(
            422, "validation_error", "no such account", fields={"account_id": ["unknown"]}
        )


@blp.route("/types")
class ConnectorTypes(MethodView):
    @blp.response(200)
    def get(self):
        """Every connector type, its settings schema (secrets marked), disabled ones with why."""
        from integrations.connectors import registry

        return [info.describe() for _, info in sorted(registry.discover().items())]


@blp.route("")
class Connectors(MethodView):
    @blp.arguments(ConnectorQuerySchema, location="query")
    @blp.response(200, ConnectorOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """List configured connectors (secrets masked), with status, last run and last error."""
        stmt = select(ConnectorConfig).order_by(ConnectorConfig.id)
        for name, value in filters.items():
            stmt = stmt.where(getattr(ConnectorConfig, name) == value)
        return stmt

    @blp.arguments(ConnectorSchema)
    @blp.response(201, ConnectorOutSchema)
    def post(self, data):
        """Configure a connector; settings are validated by its type."""
        info = _type(data["type"], for_write=True)
        _check_account(data.get("account_id"))
        settings, secrets = _split(info, data.pop("settings"), None)
        row = ConnectorConfig(**data, settings=settings, secrets=secrets, status="new")
        db.session.add(row)
        flush_or_conflict()
        record(
            db.session,
            current_actor(),
            "connector.create",
            f"connector:{row.id}",
            type=row.type,
            fields=sorted(settings) + sorted(secrets),
        )
        db.session.commit()
        return row


@blp.route("/<int:connector_id>")
class ConnectorById(MethodView):
    @blp.response(200, ConnectorOutSchema)
    def get(self, connector_id: int):
        """One connector (secrets masked)."""
        return get_or_404(ConnectorConfig, connector_id)

    @blp.arguments(ConnectorPatchSchema)
    @blp.response(200, ConnectorOutSchema)
    def patch(self, data, connector_id: int):
        """Change some fields; ``settings`` merges into the stored ones (secrets kept)."""
        row = get_or_404(ConnectorConfig, connector_id)
        if "account_id" in data:
            _check_account(data["account_id"])
        if "settings" in data:
            info = _type(row.type, for_write=True)
            merged = {**(row.settings or {}), **data.pop("settings")}
            row.settings, row.secrets = _split(info, merged, row.secrets)
        for key, value in data.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        flush_or_conflict()
        record(
            db.session,
            current_actor(),
            "connector.update",
            f"connector:{row.id}",
            fields=sorted(data),
        )
        db.session.commit()
        return row

    @blp.response(204)
    def delete(self, connector_id: int):
        """Remove a connector (its samples stay, unlinked)."""
        row = get_or_404(ConnectorConfig, connector_id)
        db.session.delete(row)
        record(db.session, current_actor(), "connector.delete", f"connector:{connector_id}")
        db.session.commit()


@blp.route("/<int:connector_id>/check")
class ConnectorCheck(MethodView):
    @blp.response(200)
    def post(self, connector_id: int):
        """Test the connection with the stored settings; 502 with the classified error."""
        from integrations.connectors.runner import build
        from integrations.errors import IntegrationError

        row = get_or_404(ConnectorConfig, connector_id)
        config = current_app.config["CSHUB"]
        try:
            connector = build(row, now=utcnow(), ca_bundle=config.requests_ca_bundle)
            facts = connector.check()
        except IntegrationError as exc:
            raise ApiError(502, "check_failed", str(exc), kind=type(exc).__name__) from exc
        return {"id": row.id, "ok": True, "facts": facts}


@blp.route("/<int:connector_id>/run")
class ConnectorRun(MethodView):
    @blp.response(202)
    def post(self, connector_id: int):
        """Enqueue a run now (one at a time per connector); poll the connector for the result."""
        from jobs.connectors import enqueue_run

        row = get_or_404(ConnectorConfig, connector_id)
        try:
            job_id, new = enqueue_run(row.id)
        except RedisError as exc:
            raise ApiError(503, "queue_unavailable", "the job queue is unreachable") from exc
        record(db.session, current_actor(), "connector.run", f"connector:{row.id}", job_id=job_id)
        db.session.commit()
        return {"id": row.id, "job_id": job_id, "queued": True, "already_queued": not new}
