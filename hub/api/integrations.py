"""Integration settings: GET/PUT /api/integrations/<name>, POST .../check. Secrets write-only."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from marshmallow import ValidationError

from hub import settings as store
from hub.api.common import api_blueprint
from hub.auth import current_actor
from hub.db import db, utcnow
from hub.errors import ApiError
from hub.models import IntegrationSetting

blp = api_blueprint(
    "integrations",
    __name__,
    "/api/integrations",
    "Integration settings (Salesforce, Mixpanel, Stripe, webhook secrets)",
)


def _spec(name: str) -> store.IntegrationSpec:
    spec = store.get_spec(name)
    if spec is None:
        raise ApiError(404, "not_found", f"no integration named {name!r}")
    return spec


@blp.route("")
class Integrations(MethodView):
    @blp.response(200)
    def get(self):
        """List integrations, whether each is configured, and its status."""
        config = current_app.config["CSHUB"]
        out = []
        for name, spec in sorted(store.specs().items()):
            row = db.session.query(IntegrationSetting).filter_by(name=name).one_or_none()
            out.append(
                {
                    "name": name,
                    "description": spec.description,
                    "configured": bool(store.effective(db.session, spec, config)),
                    "source": "api" if row else "environment",
                    "status": row.status if row else "unknown",
                    "last_error": row.last_error if row else None,
                    "last_sync_at": row.last_sync_at.isoformat()
                    if row and row.last_sync_at
                    else None,
                }
            )
        return out


@blp.route("/<name>")
class IntegrationByName(MethodView):
    @blp.response(200)
    def get(self, name: str):
        """The settings in force, secrets masked."""
        spec = _spec(name)
        values = store.effective(db.session, spec, current_app.config["CSHUB"])
        return {"name": name, "settings": store.masked(values, spec)}

    @blp.response(200)
    def put(self, name: str):
        """Replace the settings (validated by the integration's schema)."""
        spec = _spec(name)
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            raise ApiError(400, "bad_request", "the body must be a JSON object")
        try:
            values = spec.schema().load(payload)
        except ValidationError as exc:
            raise ApiError(
                422, "validation_error", "the request has invalid fields", fields=exc.messages
            ) from exc
        config = current_app.config["CSHUB"]
        store.save(db.session, spec, values, config, current_actor())
        db.session.commit()
        return {
            "name": name,
            "settings": store.masked(store.effective(db.session, spec, config), spec),
        }


@blp.route("/<name>/check")
class IntegrationCheck(MethodView):
    @blp.response(200)
    def post(self, name: str):
        """Test the connection with the settings in force; record the outcome."""
        spec = _spec(name)
        if spec.check is None:
            raise ApiError(400, "not_checkable", f"{name} has no connection check")
        config = current_app.config["CSHUB"]
        values = store.effective(db.session, spec, config)
        row = db.session.query(IntegrationSetting).filter_by(name=name).one_or_none()
        try:
            facts = spec.check(values)
        except Exception as exc:  # report any failure to the admin, classified
            if row:
                row.status, row.last_error = "error", str(exc)[:2000]
                db.session.commit()
            raise ApiError(502, "check_failed", str(exc)) from exc
        if row:
            row.status, row.last_error, row.last_sync_at = "ok", None, utcnow()
            db.session.commit()
        return {"name": name, "ok": True, **facts}
