"""Public tracking endpoints behind signed links (no bearer token): the open pixel, the click
redirect and one-click unsubscribe (RFC 8058: ``List-Unsubscribe-Post``). A tampered or
foreign token gets 404; a valid one records the first open/click on the outbox row and as
an ``email_opened`` / ``email_clicked`` event (source ``hub``) the engine can use.
"""

from __future__ import annotations

import base64
from html import escape
from urllib.parse import urlsplit

from flask import Response, current_app, redirect
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from hub.audit import record
from hub.db import db, utcnow
from hub.errors import ApiError
from hub.models import Contact, Event, OutboxMessage
from integrations.channels import tracking

blp = Blueprint("tracking", __name__, url_prefix="/t", description="Signed tracking links")

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}


def _read(purpose: str, token: str) -> dict:
    try:
        return tracking.read_token(current_app.config["CSHUB"].effective_secret_key, purpose, token)
    except tracking.InvalidToken as exc:
        raise ApiError(404, "not_found", "this link is not valid") from exc


def _message(data: dict) -> OutboxMessage:
    message = db.session.get(OutboxMessage, data.get("m"))
    if message is None:
        raise ApiError(404, "not_found", "this link is not valid")
    return message


def _event(message: OutboxMessage, name: str, **properties) -> None:
    """Record ``name`` once per message (a repeated open or click adds nothing)."""
    try:
        with db.session.begin_nested():
            db.session.add(
                Event(
                    account_id=message.account_id,
                    contact_id=message.contact_id,
                    name=name,
                    occurred_at=utcnow(),
                    properties={
                        "message_id": message.id,
                        "playbook": message.playbook_key,
                        "step": message.step_key,
                        **properties,
                    },
                    source="hub",
                    source_event_id=f"{name}:{message.id}",
                )
            )
    except IntegrityError:
        pass


@blp.route("/o/<token>.gif")
class OpenPixel(MethodView):
    def get(self, token: str):
        """The 1x1 open pixel: records the first open."""
        message = _message(_read(tracking.OPEN, token))
        if message.opened_at is None:
            message.opened_at = utcnow()
            _event(message, "email_opened")
            db.session.commit()
        return Response(PIXEL, mimetype="image/gif", headers=NO_STORE)


@blp.route("/c/<token>")
class ClickRedirect(MethodView):
    def get(self, token: str):
        """Record the click and redirect to the signed target URL."""
        data = _read(tracking.CLICK, token)
        target = str(data.get("u", ""))
        if urlsplit(target).scheme not in ("http", "https"):
            raise ApiError(404, "not_found", "this link is not valid")
        message = _message(data)
        changed = False
        if message.clicked_at is None:
            message.clicked_at = utcnow()
            _event(message, "email_clicked", url=target)
            changed = True
        if message.opened_at is None:  # a click proves the open the pixel may have missed
            message.opened_at = message.clicked_at
            changed = True
        if changed:
            db.session.commit()
        response = redirect(target, code=302)
        response.headers.update(NO_STORE)
        return response


def _unsubscribe(token: str) -> tuple[Contact, str]:
    data = _read(tracking.UNSUBSCRIBE, token)
    contact = db.session.get(Contact, data.get("c"))
    channel = str(data.get("ch", "email"))
    if contact is None:
        raise ApiError(404, "not_found", "this link is not valid")
    if channel not in (contact.unsubscribed or []):
        contact.unsubscribed = [*(contact.unsubscribed or []), channel]
        record(
            db.session,
            f"contact:{contact.id}",
            "contact.unsubscribe",
            f"contact:{contact.id}",
            channel=channel,
            message_id=data.get("m"),
        )
        db.session.add(
            Event(
                account_id=contact.account_id,
                contact_id=contact.id,
                name="unsubscribed",
                occurred_at=utcnow(),
                properties={"channel": channel, "message_id": data.get("m")},
                source="hub",
                source_event_id=f"unsubscribed:{contact.id}:{channel}",
            )
        )
        db.session.commit()
    return contact, channel


@blp.route("/u/<token>")
class Unsubscribe(MethodView):
    def get(self, token: str):
        """A confirmation page (mail scanners follow GET links, so GET changes nothing)."""
        _read(tracking.UNSUBSCRIBE, token)
        html = (
            "<!doctype html><meta charset='utf-8'><title>Unsubscribe</title>"
            "<p>Stop receiving these messages?</p>"
            f"<form method='post' action='{escape(token)}'><button>Unsubscribe</button></form>"
        )
        return Response(html, mimetype="text/html", headers=NO_STORE)

    def post(self, token: str):
        """Unsubscribe (the form, or a mail client's RFC 8058 one-click POST)."""
        _contact, channel = _unsubscribe(token)
        html = (
            "<!doctype html><meta charset='utf-8'><title>Unsubscribed</title>"
            f"<p>You will no longer receive {escape(channel)} messages from us.</p>"
        )
        return Response(html, mimetype="text/html", headers=NO_STORE)
