"""Mixpanel cohort sync (custom webhook destination), HTTP Basic authenticated.

Mixpanel POSTs ``{"action": "members" | "add_members" | "remove_members", "parameters":
{"mixpanel_cohort_id", "mixpanel_cohort_name", "mixpanel_session_id", "page_info":
{"total_pages", "page_count"}, "members": [...]}}`` and expects
``{"action": <action>, "status": "success"}`` back, or ``"status": "failure"`` with an
``error`` object. Mixpanel sends no delivery id, so a page is keyed by the hash of its body:
a retried page is the same bytes and is stored once.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from hub.config import Config
from webhooks.base import Delivery, Reply, json_response, parse_json, text_field
from webhooks.inbox import Stored
from webhooks.secrets import Secrets
from webhooks.verify import WebhookError, bad_request, verify_basic_auth


def _action_of(body: bytes) -> str | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    action = doc.get("action") if isinstance(doc, dict) else None
    return action if isinstance(action, str) and len(action) <= 64 else None


class MixpanelReceiver:
    source = "mixpanel"

    def accept(
        self, body: bytes, headers: Any, secrets: Secrets, config: Config, now: float
    ) -> Delivery:
        verify_basic_auth(headers.get("Authorization"), secrets.live("mixpanel", now))  # type: ignore[arg-type]
        doc = parse_json(body)
        if not isinstance(doc, dict):
            raise bad_request("a cohort sync message is a JSON object")
        action = text_field(doc, "action", 64)
        if "parameters" in doc and not isinstance(doc["parameters"], dict):
            raise bad_request("'parameters' must be an object")
        external_id = "sha256:" + hashlib.sha256(body).hexdigest()
        return Delivery(external_id, action, action=action)

    def success(self, delivery: Delivery, stored: Stored) -> Reply:
        return json_response({"action": delivery.action, "status": "success"})

    def failure(self, error: WebhookError, body: bytes) -> Reply:
        return json_response(
            {
                "action": _action_of(body),
                "status": "failure",
                "error": {"code": error.status, "message": error.message},
            },
            error.status,
        )


RECEIVER = MixpanelReceiver()
