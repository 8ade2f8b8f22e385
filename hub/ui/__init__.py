"""The admin web UI (server-rendered): dashboard, accounts, KPIs, playbooks, outbox,
integrations, webhook inbox, health configuration, jobs and the audit log under ``/``.

Sign-in with a user (``cshub user create``); reps see everything and change nothing; every
form carries a CSRF token; every response carries secure headers (CSP without inline script).
"""

from __future__ import annotations

from flask import Flask

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


def init_app(app: Flask) -> None:
    """Register the admin UI under /."""
    from importlib import import_module

    from hub.ui import common, security
    from hub.ui.blueprint import bp

    for name in VIEW_MODULES:
        import_module(f"hub.ui.views.{name}")
    security.configure(app)
    common.init_filters(app)
    app.register_blueprint(bp)
