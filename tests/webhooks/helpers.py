"""Signing, posting and job-running helpers for the webhook tests."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
from rq import SimpleWorker
from stripe import WebhookSignature

from webhooks.verify import sign_standard

STRIPE_SECRET = "whsec_test_stripe_0123456789"
EVENTS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MIXPANEL_USER = "mixpanel-hook"
MIXPANEL_PASSWORD = "s3cret-pass"
ORG_ID = "00D5e000000ABCDEAA"

SECRETS = {
    "stripe_webhook_secret": STRIPE_SECRET,
    "events_webhook_secret": EVENTS_SECRET,
    "mixpanel_webhook_user": MIXPANEL_USER,
    "mixpanel_webhook_password": MIXPANEL_PASSWORD,
    "salesforce_org_id": ORG_ID,
}


def stripe_headers(body: bytes, secret: str = STRIPE_SECRET, t: int | None = None) -> dict:
    header = WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=t)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def post_stripe(client, event: dict[str, Any], secret: str = STRIPE_SECRET, t: int | None = None):
    body = orjson.dumps(event)
    return client.post("/webhooks/stripe", data=body, headers=stripe_headers(body, secret, t))


def events_headers(
    body: bytes, msg_id: str, secret: str = EVENTS_SECRET, t: int | None = None
) -> dict:
    ts = int(time.time()) if t is None else t
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard(key, msg_id, ts, body),
        "Content-Type": "application/json",
    }


def post_events(client, doc: Any, msg_id: str, secret: str = EVENTS_SECRET, t: int | None = None):
    body = orjson.dumps(doc)
    return client.post(
        "/webhooks/events", data=body, headers=events_headers(body, msg_id, secret, t)
    )


def basic(user: str = MIXPANEL_USER, password: str = MIXPANEL_PASSWORD) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def post_mixpanel(client, doc: dict[str, Any], **auth: str):
    return client.post("/webhooks/mixpanel", data=orjson.dumps(doc), headers=basic(**auth))


def post_salesforce(client, xml: str | bytes):
    body = xml.encode() if isinstance(xml, str) else xml
    return client.post(
        "/webhooks/salesforce",
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
    )


def run_jobs(app, queues_names=("high", "default")) -> None:
    """Run every queued job to completion in this process (real Redis, real RQ)."""
    from hub.queue import queues
    from jobs.base import set_app

    set_app(app)
    worker = SimpleWorker([queues[n] for n in queues_names], connection=queues.redis)
    worker.work(burst=True)
