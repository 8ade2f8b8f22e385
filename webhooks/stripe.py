"""Stripe: ``Stripe-Signature`` verified with the stripe library, the event id as the key.

Stripe retries a delivery that is not answered 2xx for up to three days and may deliver an
event more than once; the event id (``evt_...``) makes the second delivery a no-op.
"""

from __future__ import annotations

from typing import Any

from hub.config import Config
from webhooks.base import Delivery, Reply, json_failure, json_success, parse_json, text_field
from webhooks.inbox import Stored
from webhooks.secrets import Secrets
from webhooks.verify import WebhookError, bad_request, verify_stripe


class StripeReceiver:
    source = "stripe"

    def accept(
        self, body: bytes, headers: Any, secrets: Secrets, config: Config, now: float
    ) -> Delivery:
        verify_stripe(
            body,
            headers.get("Stripe-Signature"),
            secrets.live("stripe", now),  # type: ignore[arg-type]
            now,
            config.webhook_tolerance_s,
        )
        doc = parse_json(body)
        if not isinstance(doc, dict):
            raise bad_request("a Stripe event is a JSON object")
        return Delivery(text_field(doc, "id"), text_field(doc, "type", 128))

    def success(self, delivery: Delivery, stored: Stored) -> Reply:
        return json_success(stored)

    def failure(self, error: WebhookError, body: bytes) -> Reply:
        return json_failure(error)


RECEIVER = StripeReceiver()
