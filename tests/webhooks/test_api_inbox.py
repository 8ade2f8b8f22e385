"""/api/inbox: list and filter deliveries, see one, replay one or a time range (202)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from hub.db import db, utcnow
from hub.models import InboxEvent
from tests.webhooks.helpers import post_events, post_stripe, run_jobs
from tests.webhooks.payloads import stripe_event


def _stripe(client, n: int, kind: str = "customer.subscription.trial_will_end") -> None:
    assert post_stripe(client, stripe_event(f"evt_api{n}", kind, {"id": "x"})).status_code == 200


def _rep_headers(session) -> dict[str, str]:
    from hub.auth import create_token

    _, plaintext = create_token(session, "rep", "rep")
    session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def test_list_filters_and_paginates(app, client, admin_headers):
    for n in range(3):
        _stripe(client, n)
    post_events(client, {"type": "product.event", "data": {"name": "x"}}, "msg_api")
    listed = client.get("/api/inbox", headers=admin_headers)
    assert listed.status_code == 200
    assert [r["external_id"] for r in listed.json] == [
        "msg_api",
        "evt_api2",
        "evt_api1",
        "evt_api0",
    ]
    assert "body" not in listed.json[0]
    only = client.get("/api/inbox?source=events", headers=admin_headers).json
    assert [r["external_id"] for r in only] == ["msg_api"]
    paged = client.get("/api/inbox?page=2&page_size=3", headers=admin_headers)
    assert len(paged.json) == 1 and '"total": 4' in paged.headers["X-Pagination"]
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert (
        client.get("/api/inbox", query_string={"since": future}, headers=admin_headers).json == []
    )
    assert client.get("/api/inbox?status=bogus", headers=admin_headers).status_code == 422


def test_get_one_shows_body_headers_and_result(app, client, admin_headers):
    _stripe(client, 1)
    run_jobs(app)
    row = client.get("/api/inbox", headers=admin_headers).json[0]
    one = client.get(f"/api/inbox/{row['id']}", headers=admin_headers)
    assert one.status_code == 200
    assert '"evt_api1"' in one.json["body"] and "Stripe-Signature" in one.json["headers"]
    assert one.json["status"] == "processed" and one.json["result"]["hooks"] >= 0
    assert client.get("/api/inbox/999999", headers=admin_headers).status_code == 404


def test_replay_one_answers_202_and_reprocesses(app, client, session, admin_headers):
    _stripe(client, 1)
    run_jobs(app)
    row_id = session.query(InboxEvent).one().id
    response = client.post(f"/api/inbox/{row_id}/replay", headers=admin_headers)
    assert response.status_code == 202 and response.json["status"] == "pending"
    run_jobs(app)
    session.expire_all()
    row = session.get(InboxEvent, row_id)
    assert row.status == "processed" and row.attempts == 2


def test_replay_of_a_row_in_flight_is_409(app, client, session, admin_headers):
    _stripe(client, 1)
    row_id = session.query(InboxEvent).one().id
    with db.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(status="processing", claimed_at=utcnow()))
    response = client.post(f"/api/inbox/{row_id}/replay", headers=admin_headers)
    assert response.status_code == 409 and response.json["error"]["code"] == "in_flight"


def test_replay_failed_in_a_time_range(app, client, session, admin_headers):
    """Failed rows received in [since, until) are replayed; others are left alone."""
    for n in range(4):
        _stripe(client, n)
    run_jobs(app)
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(status="failed", last_error="boom"))
        conn.execute(
            update(InboxEvent)
            .where(InboxEvent.external_id == "evt_api0")
            .values(received_at=now - timedelta(days=2))
        )
    body = {
        "since": (now - timedelta(days=1)).isoformat(),
        "until": (now + timedelta(minutes=1)).isoformat(),
    }
    response = client.post("/api/inbox/replay", headers=admin_headers, json=body)
    assert response.status_code == 202 and response.json["matched"] == 3
    run_jobs(app)
    session.expire_all()
    statuses = {r.external_id: r.status for r in session.query(InboxEvent)}
    assert statuses == {
        "evt_api0": "failed",
        "evt_api1": "processed",
        "evt_api2": "processed",
        "evt_api3": "processed",
    }


def test_replay_range_validation(client, admin_headers):
    now = utcnow()
    backwards = {"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}
    assert (
        client.post("/api/inbox/replay", headers=admin_headers, json=backwards).status_code == 422
    )
    missing = {"since": now.isoformat()}
    assert client.post("/api/inbox/replay", headers=admin_headers, json=missing).status_code == 422
    extra = {**backwards, "until": (now + timedelta(hours=1)).isoformat(), "x": 1}
    assert client.post("/api/inbox/replay", headers=admin_headers, json=extra).status_code == 422


def test_reps_read_but_cannot_replay(app, client, session):
    _stripe(client, 1)
    headers = _rep_headers(session)
    row_id = session.query(InboxEvent).one().id
    assert client.get("/api/inbox", headers=headers).status_code == 200
    assert client.post(f"/api/inbox/{row_id}/replay", headers=headers).status_code == 403
    assert client.get("/api/inbox").status_code == 401
