"""A signed outgoing webhook (Standard Webhooks) for anything else: one JSON POST per message.

Headers ``webhook-id`` (stable per message, so receivers deduplicate a repeat),
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`` keyed with the ``whsec_`` secret, as the Standard Webhooks
specification defines. Settings: IntegrationSpec ``outgoing_webhook`` (``url``, ``secret``);
a step may name another ``url``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import orjson
import requests

from integrations.channels.base import TEAM, Channel, Delivery, Envelope
from integrations.errors import RetriableError, classify_http


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (a bare base64 secret is accepted too)."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise ValueError("the webhook secret must be whsec_ followed by base64") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_id(idempotency_key: str) -> str:
    return "msg_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


class WebhookChannel(Channel):
    name = "webhook"
    title = "Outgoing webhook (Standard Webhooks)"
    audience = TEAM
    spec = "outgoing_webhook"
    required_settings = ("url", "secret")
    idempotent_delivery = True  # receivers deduplicate on webhook-id

    def send(self, envelope: Envelope) -> Delivery:
        msg_id = webhook_id(envelope.idempotency_key)
        timestamp = int(time.time())
        body = orjson.dumps(
            {
                "type": envelope.payload.get("event_type", "cshub.playbook.message"),
                "timestamp": timestamp,
                "data": {
                    "idempotency_key": envelope.idempotency_key,
                    "account": {k: envelope.account.get(k) for k in ("id", "name", "segment")},
                    "contact_id": (envelope.contact or {}).get("id"),
                    "template": envelope.template,
                    "subject": envelope.subject,
                    "body": envelope.body,
                    "params": envelope.payload.get("params") or {},
                },
            }
        )
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.settings["secret"], msg_id, timestamp, body),
        }
        url = envelope.payload.get("url") or self.settings["url"]
        try:
            response = requests.post(
                url,
                data=body,
                headers=headers,
                timeout=self.context.timeout_s,
                verify=self.context.ca_bundle or True,
            )
        except requests.RequestException as exc:
            raise RetriableError(f"webhook endpoint unreachable: {exc}") from exc
        if response.status_code >= 300:
            retry_after = response.headers.get("Retry-After")
            raise classify_http(
                response.status_code,
                f"webhook endpoint answered {response.status_code}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        return Delivery(external_id=msg_id, detail={"status": response.status_code})


CHANNELS = (WebhookChannel,)
