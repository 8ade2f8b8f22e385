"""Inbound webhook receivers: verify, store in the inbox, enqueue, answer 2xx. Nothing else.

One module per source (``stripe``, ``mixpanel``, ``salesforce``, ``events`` for Standard
Webhooks), shared checks in ``verify``, the secrets in force in ``secrets`` (settings spec in
``settings``), the INSERT and enqueue in ``inbox``, the WSGI entry in ``ingress``. What an
event means is decided later, in ``jobs.inbox.process`` and ``hub.ingest``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Answer ``/webhooks/<source>`` ahead of Flask (unknown source: 404 JSON)."""
    from webhooks.ingress import Ingress

    app.wsgi_app = Ingress(app, app.wsgi_app)  # type: ignore[method-assign]
