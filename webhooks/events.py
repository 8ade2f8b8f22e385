"""Product and rig events, signed per the Standard Webhooks specification.

Headers ``webhook-id`` (the idempotency key), ``webhook-timestamp`` (unix seconds, 5-minute
tolerance) and ``webhook-signature`` (space-separated ``v1,<base64>`` HMAC-SHA256 over
``id.timestamp.body`` with the ``whsec_`` secret). The body is one event
``{"type": ..., "timestamp": ..., "data": {...}}`` or a batch: a JSON array of such events.
What the types mean is ``hub.ingest.events``'s business.
"""

from __future__ import annotations

from typing import Any

from hub.config import Config
from webhooks.base import Delivery, Reply, json_failure, json_success, parse_json
from webhooks.inbox import Stored
from webhooks.secrets import Secrets
from webhooks.verify import WebhookError, bad_request, verify_standard

MAX_BATCH = 1000


def _event_type(doc: Any) -> str:
    if not isinstance(doc, dict):
        raise bad_request("each event is a JSON object")
    kind = doc.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 128:
        raise bad_request("each event needs a string 'type'")
    return kind


class EventsReceiver:
    source = "events"

    def accept(
        self, body: bytes, headers: Any, secrets: Secrets, config: Config, now: float
    ) -> Delivery:
        msg_id = headers.get("webhook-id")
        verify_standard(
            body,
            msg_id,
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
            secrets.live("events", now),  # type: ignore[arg-type]
            now,
            config.webhook_tolerance_s,
        )
        if len(msg_id) > 255:
            raise bad_request("webhook-id is longer than 255 characters")
        doc = parse_json(body)
        if isinstance(doc, list):
            if not doc or len(doc) > MAX_BATCH:
                raise bad_request(f"a batch holds 1 to {MAX_BATCH} events")
            types = {_event_type(item) for item in doc}
            kind = types.pop() if len(types) == 1 else "batch"
        else:
            kind = _event_type(doc)
        return Delivery(msg_id, kind)

    def success(self, delivery: Delivery, stored: Stored) -> Reply:
        return json_success(stored)

    def failure(self, error: WebhookError, body: bytes) -> Reply:
        return json_failure(error)


RECEIVER = EventsReceiver()
