"""The REST API under /api (flask-smorest): OpenAPI at /api/openapi.json, docs at /api/docs."""

from __future__ import annotations

from importlib import import_module

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from hub.errors import from_http_exception

BLUEPRINT_MODULES = [
    "hub.api.accounts",
    "hub.api.contacts",
    "hub.api.tokens",
    "hub.api.integrations",
]
"""Each module exposes ``blp``; a capability adds its module here."""


class HubApi(Api):
    """flask-smorest's Api with the house error shape."""

    def handle_http_exception(self, error: HTTPException):
        return from_http_exception(error)


def init_api(app: Flask) -> HubApi:
    app.config.update(
        API_TITLE="cshub",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/static/swagger-ui/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    )
    api = HubApi(app)
    for name in BLUEPRINT_MODULES:
        api.register_blueprint(import_module(name).blp)
    app.extensions["cshub_api"] = api
    return api
