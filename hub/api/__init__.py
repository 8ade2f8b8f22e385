"""The REST API under /api (flask-smorest): OpenAPI at /api/openapi.json, docs at /api/docs."""

from __future__ import annotations

from importlib import import_module

import swagger_ui_bundle
from flask import Blueprint, Flask, send_from_directory
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from hub.errors import from_http_exception

BLUEPRINT_MODULES = [
    "hub.api.accounts",
    "hub.api.contacts",
    "hub.api.tokens",
    "hub.api.integrations",
    "hub.api.metrics",
    "hub.api.inbox",
    "hub.api.offers",
    "hub.api.referrals",
    "hub.api.feedback",
    "hub.api.growth_public",
    "hub.api.scores",
    "hub.api.playbooks",
    "hub.api.outbox",
    "hub.api.inapp",
    "hub.api.tracking",
    "hub.api.connectors",
]
"""Each module exposes ``blp``; a capability adds its module here."""


class HubApi(Api):
    """flask-smorest's Api with the house error shape."""

    def handle_http_exception(self, error: HTTPException):
        return from_http_exception(error)


_swagger_assets = Blueprint("swagger_assets", __name__)


@_swagger_assets.get("/api/docs/assets/<path:filename>")
def swagger_asset(filename: str):
    """Swagger UI served from the installed swagger-ui-bundle package (no CDN)."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)


def init_api(app: Flask) -> HubApi:
    app.config.update(
        API_TITLE="cshub",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    )
    app.register_blueprint(_swagger_assets)
    api = HubApi(app)
    for name in BLUEPRINT_MODULES:
        api.register_blueprint(import_module(name).blp)
    app.extensions["cshub_api"] = api
    return api
