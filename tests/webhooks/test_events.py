"""POST /webhooks/events (Standard Webhooks) and product/rig events into Event/MetricSample."""

from __future__ import annotations

import base64
import time

import orjson
import pytest
from sqlalchemy import func, select

from hub.models import Account, Contact, Event, InboxEvent, MetricSample
from tests.webhooks.helpers import EVENTS_SECRET, events_headers, post_events, run_jobs
from webhooks.settings import decode_whsec
from webhooks.verify import WebhookError, sign_standard, verify_standard

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _count(session, model=InboxEvent) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_specification_test_vector_signs_and_verifies():
    """The Standard Webhooks published vector: our signer reproduces it, our verifier takes it."""
    key = decode_whsec(VECTOR_SECRET)
    assert sign_standard(key, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    verify_standard(
        VECTOR_BODY, VECTOR_ID, str(VECTOR_TS), VECTOR_SIGNATURE, [key], VECTOR_TS + 10, 300
    )
    with pytest.raises(WebhookError):
        verify_standard(
            VECTOR_BODY + b" ", VECTOR_ID, str(VECTOR_TS), VECTOR_SIGNATURE, [key], VECTOR_TS, 300
        )


@pytest.fixture
def vector_config(config):
    """The vector is from 2021: widen the window so the HTTP path can be shown to accept it."""
    return config.with_overrides({"webhook_tolerance_s": 10**10})


def test_receiver_accepts_the_specification_vector_over_http(vector_config, tmp_path):
    from hub import create_app
    from hub.db import db

    app = create_app(vector_config)
    try:
        response = app.test_client().post(
            "/webhooks/events",
            data=VECTOR_BODY,
            headers={
                "webhook-id": VECTOR_ID,
                "webhook-timestamp": str(VECTOR_TS),
                "webhook-signature": f"v1,bm9wZQ== {VECTOR_SIGNATURE}",
            },
        )
        assert response.status_code == 400  # verified, but {"test": ...} has no "type"
        assert response.json["error"]["code"] == "bad_request"
    finally:
        db.session.remove()
        db.engine.dispose()


def _product_event(name="feature_used", **data):
    return {
        "type": "product.event",
        "timestamp": "2026-03-01T10:00:00Z",
        "data": {"name": name, **data},
    }


@pytest.fixture
def account(session):
    row = Account(name="Nord Farms", stripe_customer_id="cus_Farm1", mixpanel_group_key="farm-1")
    session.add(row)
    session.flush()
    session.add(
        Contact(account_id=row.id, email="ops@nordfarms.io", mixpanel_distinct_id="u-ops-1")
    )
    session.commit()
    return row


def test_signed_event_is_stored_once_per_webhook_id(client, session):
    first = post_events(client, _product_event(), "msg_001")
    again = post_events(client, _product_event(), "msg_001")
    assert first.status_code == again.status_code == 200
    assert again.json["duplicate"] is True
    row = session.scalars(select(InboxEvent)).one()
    assert (row.source, row.external_id, row.event_type) == ("events", "msg_001", "product.event")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: h.pop("webhook-id"),
        lambda h: h.pop("webhook-signature"),
        lambda h: h.update({"webhook-timestamp": "not-a-number"}),
        lambda h: h.update({"webhook-timestamp": str(int(time.time()) - 301)}),
        lambda h: h.update({"webhook-signature": "v2," + h["webhook-signature"][3:]}),
        lambda h: h.update({"webhook-signature": "v1,!!!notbase64"}),
        lambda h: h.update({"webhook-signature": "v1"}),
        lambda h: h.update({"webhook-id": "msg_other"}),
    ],
    ids=["no-id", "no-sig", "bad-ts", "old-ts", "v2-only", "bad-b64", "no-value", "other-id"],
)
def test_bad_headers_are_401_and_store_nothing(client, session, mutate):
    body = orjson.dumps(_product_event())
    headers = events_headers(body, "msg_002")
    mutate(headers)
    response = client.post("/webhooks/events", data=body, headers=headers)
    assert response.status_code == 401
    assert _count(session) == 0


def test_wrong_secret_is_401(client, session):
    other = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert post_events(client, _product_event(), "msg_003", secret=other).status_code == 401
    assert _count(session) == 0


def test_signatures_for_a_rotating_sender_any_may_match(client, session):
    body = orjson.dumps(_product_event())
    headers = events_headers(body, "msg_004")
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    assert client.post("/webhooks/events", data=body, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b"{}", b'{"type": 7}', b'[{"type": "a"}, 3]', b"null"]
)
def test_malformed_body_is_400(client, session, body):
    from hub.queue import queues

    response = client.post("/webhooks/events", data=body, headers=events_headers(body, "msg_x"))
    assert response.status_code == 400
    assert _count(session) == 0 and queues["high"].count == 0


def test_batch_becomes_events_and_metric_samples(app, client, session, account):
    """A batch mixes product events and rig readings; each lands once, matched to the account."""
    batch = [
        _product_event(account={"stripe_customer_id": "cus_Farm1"}, properties={"feature": "x"}),
        _product_event(
            "first_optimization_complete", id="prod-evt-9", user={"distinct_id": "u-ops-1"}
        ),
        {
            "type": "rig.metrics",
            "timestamp": "2026-03-01T10:05:00Z",
            "data": {
                "account": {"mixpanel_group_key": "farm-1"},
                "subject": "rig-17",
                "metrics": {"hashrate_ths": 118.2, "efficiency_j_th": 21.4, "uptime_pct": 99.1},
            },
        },
        {"type": "rig.rebooted", "data": {}},
    ]
    assert post_events(client, batch, "msg_batch1").status_code == 200
    run_jobs(app)
    row = session.scalars(select(InboxEvent)).one()
    assert row.event_type == "batch" and row.status == "processed"
    assert row.result | {"events": 2, "samples": 3, "ignored": 1} == row.result
    events = session.scalars(select(Event).order_by(Event.id)).all()
    assert [(e.name, e.account_id, e.source_event_id) for e in events] == [
        ("feature_used", account.id, "msg_batch1:0"),
        ("first_optimization_complete", account.id, "prod-evt-9"),
    ]
    assert events[1].contact_id is not None and events[1].distinct_id == "u-ops-1"
    samples = {s.metric: (s.value, s.subject) for s in session.scalars(select(MetricSample))}
    assert samples == {
        "hashrate_ths": (118.2, "rig-17"),
        "efficiency_j_th": (21.4, "rig-17"),
        "uptime_pct": (99.1, "rig-17"),
    }


def test_replay_adds_no_second_event_or_sample(app, client, session, account, admin_headers):
    batch = [
        _product_event(account={"id": account.id}),
        {
            "type": "portfolio.metrics",
            "data": {"account": {"id": account.id}, "metrics": {"portfolio_value_usd": 1.5e6}},
        },
    ]
    post_events(client, batch, "msg_replay")
    run_jobs(app)
    row = session.scalars(select(InboxEvent)).one()
    assert client.post(f"/api/inbox/{row.id}/replay", headers=admin_headers).status_code == 202
    run_jobs(app)
    assert _count(session, Event) == 1 and _count(session, MetricSample) == 1


def test_unusable_items_are_counted_not_fatal(app, client, session, account):
    batch = [
        _product_event(""),
        {"type": "metrics", "data": {"account": {"id": 99999}, "metrics": {"x": 1}}},
        {"type": "metrics", "data": {"account": {"id": account.id}, "metrics": {"Bad Name": 1}}},
        {"type": "metrics", "data": {"account": {"id": account.id}, "metrics": {"x": "high"}}},
        _product_event("ok_event", account={"domain": "nope.example"}),
    ]
    post_events(client, batch, "msg_bad_items")
    run_jobs(app)
    row = session.scalars(select(InboxEvent)).one()
    assert row.status == "processed"
    assert row.result["skipped_count"] == 4 and row.result["unmatched"] == 1
    event = session.scalars(select(Event)).one()
    assert event.name == "ok_event" and event.account_id is None


def test_only_unknown_types_mark_the_delivery_ignored(app, client, session):
    post_events(client, {"type": "rig.rebooted", "data": {}}, "msg_unknown")
    run_jobs(app)
    assert session.scalars(select(InboxEvent)).one().status == "ignored"


def test_whsec_secrets_decode_to_their_key_and_bad_ones_are_refused():
    assert decode_whsec(EVENTS_SECRET) == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    with pytest.raises(ValueError):
        decode_whsec("whsec_%%%")
