"""POST /webhooks/stripe: Stripe-Signature verification, the inbox row, the enqueued job."""

from __future__ import annotations

import time

import orjson
import pytest
from sqlalchemy import func, select

from hub.models import InboxEvent
from tests.webhooks.helpers import post_stripe, run_jobs, stripe_headers
from tests.webhooks.payloads import stripe_event, subscription


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(InboxEvent))


def _event(event_id: str = "evt_1QxSub001", kind: str = "customer.subscription.created"):
    return stripe_event(event_id, kind, subscription())


def test_signed_event_is_stored_and_enqueued(client, session):
    """A correctly signed event answers 200, is stored pending with its headers and enqueued."""
    from hub.queue import queues

    response = post_stripe(client, _event())
    assert response.status_code == 200, response.data
    assert response.json == {"received": True, "duplicate": False}
    row = session.scalars(select(InboxEvent)).one()
    assert (row.source, row.external_id, row.event_type) == (
        "stripe",
        "evt_1QxSub001",
        "customer.subscription.created",
    )
    assert row.status == "pending" and row.attempts == 0
    assert "Stripe-Signature" in row.headers and "Authorization" not in row.headers
    assert orjson.loads(row.body)["id"] == "evt_1QxSub001"
    job_ids = queues["high"].job_ids
    assert job_ids == [row.job_id]


def test_duplicate_delivery_answers_200_and_is_not_enqueued_twice(client, session):
    """Stripe may deliver an event twice: the second is a no-op that still answers 200."""
    from hub.queue import queues

    first = post_stripe(client, _event())
    again = post_stripe(client, _event())
    assert first.status_code == again.status_code == 200
    assert again.json["duplicate"] is True
    assert _count(session) == 1
    assert queues["high"].count == 1


def test_wrong_secret_is_401_and_stores_nothing(client, session):
    response = post_stripe(client, _event(), secret="whsec_someone_else")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert _count(session) == 0


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=notanumber,v1=abc",
        "v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
        "t=1,v1=\u00e9\u00e9",
        "t=,v1=",
        "t=1614265330,v0=abc",
        ",,,=,=",
    ],
)
def test_unreadable_signature_header_is_401_never_500(client, session, header):
    """Any header that cannot be parsed is a 401, not a server error."""
    body = orjson.dumps(_event())
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    response = client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 401
    assert _count(session) == 0


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamp_outside_tolerance_is_401(client, session, offset):
    """A valid signature over a timestamp more than 300 s away (either way) is refused."""
    response = post_stripe(client, _event(), t=int(time.time()) + offset)
    assert response.status_code == 401
    assert _count(session) == 0


def test_any_of_several_v1_signatures_may_match(client, session):
    """Stripe sends one v1 per active secret during its own rotation."""
    body = orjson.dumps(_event())
    good = stripe_headers(body)["Stripe-Signature"]
    t, v1 = good.split(",")
    header = f"{t},v1={'0' * 64},{v1},v0=deadbeef"
    response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header})
    assert response.status_code == 200
    assert _count(session) == 1


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'"evt"', b'{"id": 5, "type": "x"}', b'{"id": "evt_1"}']
)
def test_malformed_body_is_400_and_nothing_enqueued(client, session, body):
    """A signed body that is not a Stripe event is a 400; nothing is stored or enqueued."""
    from hub.queue import queues

    response = client.post("/webhooks/stripe", data=body, headers=stripe_headers(body))
    assert response.status_code == 400
    assert _count(session) == 0
    assert queues["high"].count == 0


def test_unknown_event_type_is_stored_then_ignored(app, client, session):
    """An event type nobody handles is accepted (Stripe stops retrying) and marked ignored."""
    event = stripe_event("evt_unknown1", "customer.tax_id.created", {"object": "tax_id"})
    assert post_stripe(client, event).status_code == 200
    run_jobs(app)
    row = session.scalars(select(InboxEvent)).one()
    session.refresh(row)
    assert row.status == "ignored" and row.processed_at is not None


def test_unknown_source_is_404_json(client):
    response = client.post("/webhooks/paypal", data=b"{}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_get_is_405_json(client):
    response = client.get("/webhooks/stripe")
    assert response.status_code == 405 and "error" in response.json


@pytest.fixture
def small_limit_config(config):
    return config.with_overrides({"webhook_max_bytes": 512})


@pytest.fixture
def small_app(small_limit_config):
    from hub import create_app
    from hub.db import db

    application = create_app(small_limit_config)
    yield application
    db.session.remove()
    db.engine.dispose()


def test_body_over_the_limit_is_413(small_app):
    """A body over webhook_max_bytes is refused before anything is verified or stored."""
    from hub.db import db

    event = _event()
    event["data"]["object"]["metadata"] = {"pad": "x" * 1000}
    response = post_stripe(small_app.test_client(), event)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    with small_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InboxEvent)) == 0
