"""cshub: the customer-success automation hub. ``create_app`` is the only entry point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hub.config import Config

__all__ = ["create_app"]


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app. ``config`` is a Config, or overrides applied to the environment's."""
    from hub import crypto, ops
    from hub import logging as hub_logging
    from hub.api import init_api
    from hub.db import db
    from hub.queue import queues

    if config is None:
        cfg = Config.from_env()
    elif isinstance(config, Config):
        cfg = config
    else:
        cfg = Config.from_env().with_overrides(dict(config))

    hub_logging.configure(cfg.log_level, cfg.log_json)
    crypto.configure(cfg.effective_secret_key)

    app = Flask(__name__)
    app.config["CSHUB"] = cfg
    app.config["SECRET_KEY"] = cfg.effective_secret_key
    app.config["TESTING"] = cfg.testing
    app.config["MAX_CONTENT_LENGTH"] = max(cfg.webhook_max_bytes, 16 * 1024 * 1024)
    db.init_app(app)
    queues.init_app(app)
    ops.init_app(app)
    init_api(app)
    _init_optional_faces(app)
    return app


def _init_optional_faces(app: Flask) -> None:
    """Register the webhook receivers and the admin UI when those packages provide them."""
    from importlib import import_module

    for module_name in ("webhooks", "hub.ui"):
        module = import_module(module_name)
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
