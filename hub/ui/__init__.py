"""The admin web UI (server-rendered): dashboard, accounts, KPIs, playbooks, outbox,
integrations, webhook inbox, health configuration, jobs and the audit log under ``/``.

Sign-in with a user (``cshub user create``); reps see everything and change nothing; every
form carries a CSRF token; every response carries secure headers (CSP without inline script).
"""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

VIEW_MODULES = (
    "auth",
    "dashboard",
    "accounts",
    "kpis",
    "playbooks",
    "outbox",
    "integrations",
    "inbox",
    "health",
    "jobs",
    "audit",
)


def _error_page(exc: HTTPException):
    code = exc.code or 500
    return (
        render_template("error.html", code=code, title=exc.name, message=exc.description),
        code,
    )


def init_app(app: Flask) -> None:
    """Register the admin UI under /."""
    from importlib import import_module

    from hub.ui import common, security
    from hub.ui.blueprint import bp

    for name in VIEW_MODULES:
        import_module(f"hub.ui.views.{name}")
    security.configure(app)
    common.init_filters(app)
    bp.before_request(security.guard)
    bp.after_request(security.secure_headers)
    for code in (400, 403, 404, 405, 409, 422, 429, 501, 502):
        bp.register_error_handler(code, _error_page)
    bp.register_error_handler(
        CSRFError,
        lambda exc: (
            render_template(
                "error.html",
                code=400,
                title="Form expired",
                message="The form's security token is missing or expired. Reload and try again.",
            ),
            400,
        ),
    )
    app.register_blueprint(bp)
