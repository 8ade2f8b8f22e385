"""``POST /webhooks/<source>``: size check, verify, one INSERT, one enqueue, answer."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import json_error
from webhooks import events, mixpanel, salesforce, secrets, stripe
from webhooks.base import Receiver
from webhooks.inbox import store
from webhooks.verify import WebhookError

log = logging.getLogger(__name__)

RECEIVERS: dict[str, Receiver] = {
    r.source: r for r in (stripe.RECEIVER, mixpanel.RECEIVER, salesforce.RECEIVER, events.RECEIVER)
}

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/<source>")
def receive(source: str) -> ResponseReturnValue:
    receiver = RECEIVERS.get(source)
    if receiver is None:
        return json_error(404, "not_found", f"no webhook receiver named {source!r}")
    config = current_app.config["CSHUB"]
    limit = config.webhook_max_bytes
    too_large = WebhookError(413, "payload_too_large", f"the body is over {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        return receiver.failure(too_large, b"")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return receiver.failure(too_large, b"")
    try:
        delivery = receiver.accept(
            body,
            request.headers,
            secrets.current(current_app._get_current_object()),
            config,
            time.time(),
        )
        stored = store(source, delivery.external_id, delivery.event_type, request.headers, body)
    except WebhookError as exc:
        return receiver.failure(exc, body)
    except SQLAlchemyError:
        log.exception("webhook %s not stored: database unavailable", source)
        unavailable = WebhookError(503, "unavailable", "the delivery could not be stored")
        return receiver.failure(unavailable, body)
    return receiver.success(delivery, stored)
