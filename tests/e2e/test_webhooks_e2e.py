"""Signed webhooks over real HTTP to gunicorn, processed by a real `cshub worker` on real Redis,
end in the expected account state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import requests
from sqlalchemy import select

from hub.models import Account, Contact, Event, InboxEvent, MetricSample, SubscriptionChange
from tests.e2e.webhook_stack import stack_env, start_web, start_worker, stop, wait_until
from tests.webhooks.helpers import basic, events_headers, stripe_headers
from tests.webhooks.payloads import (
    NOW,
    cohort_message,
    invoice,
    member,
    price,
    stripe_event,
    subscription,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(app, config):
    """gunicorn (2 workers) and one worker process against the test's database and Redis."""
    env = stack_env(config)
    web, base = start_web(env)
    worker = start_worker(env)
    yield base
    stop(worker)
    stop(web)


def _post(base: str, source: str, body: bytes, headers: dict) -> requests.Response:
    return requests.post(f"{base}/webhooks/{source}", data=body, headers=headers, timeout=10)


def _all_done(session, expected: int) -> bool:
    session.expire_all()
    rows = session.scalars(select(InboxEvent)).all()
    return len(rows) == expected and all(r.status in ("processed", "ignored") for r in rows)


def test_signed_events_through_gunicorn_and_a_worker(stack, session):
    account = Account(name="Summit Farms", stripe_customer_id="cus_E2E1", segment="mining_farm")
    session.add(account)
    session.flush()
    session.add(Contact(account_id=account.id, email="ops@summit.io", mixpanel_distinct_id="u1"))
    session.commit()

    stripe_events = [
        stripe_event(
            "evt_e2e_1",
            "customer.subscription.created",
            subscription("sub_E2E", "cus_E2E1", prices=[(price(unit_amount=49900), 1)]),
            NOW - 40,
        ),
        stripe_event(
            "evt_e2e_2",
            "customer.subscription.updated",
            subscription("sub_E2E", "cus_E2E1", prices=[(price(unit_amount=49900), 2)]),
            NOW - 30,
        ),
        stripe_event(
            "evt_e2e_3",
            "invoice.payment_failed",
            invoice("in_E2E", "cus_E2E1", "sub_E2E", 99800, status="open"),
            NOW - 20,
        ),
        stripe_event(
            "evt_e2e_4", "invoice.paid", invoice("in_E2E", "cus_E2E1", "sub_E2E", 99800), NOW - 10
        ),
    ]
    for event in [*stripe_events, stripe_events[1]]:  # the last one is a duplicate delivery
        body = orjson.dumps(event)
        response = _post(stack, "stripe", body, stripe_headers(body))
        assert response.status_code == 200, response.text
    assert response.json()["duplicate"] is True

    forged = orjson.dumps(stripe_event("evt_forged", "invoice.paid", invoice()))
    assert _post(stack, "stripe", forged, stripe_headers(forged, "whsec_wrong")).status_code == 401

    batch = orjson.dumps(
        [
            {
                "type": "product.event",
                "data": {"name": "fleet_dashboard_viewed", "account": {"id": account.id}},
            },
            {
                "type": "rig.metrics",
                "data": {
                    "account": {"stripe_customer_id": "cus_E2E1"},
                    "subject": "rig-1",
                    "metrics": {"hashrate_ths": 410.5},
                },
            },
        ]
    )
    assert _post(stack, "events", batch, events_headers(batch, "msg_e2e_1")).status_code == 200
    cohort = orjson.dumps(cohort_message("members", [member("ops@summit.io", "u1")]))
    mixpanel = _post(stack, "mixpanel", cohort, basic())
    assert mixpanel.json() == {"action": "members", "status": "success"}

    wait_until(lambda: _all_done(session, 6), 60, "the worker did not process every delivery")
    session.expire_all()
    account = session.get(Account, account.id)
    assert (account.plan, account.mrr, account.status) == ("pro", 998.0, "active")
    assert account.cohorts == ["Power Miners"]
    kinds = [c.kind for c in session.scalars(select(SubscriptionChange))]
    assert kinds == ["new", "expansion"]
    names = sorted(e.name for e in session.scalars(select(Event)))
    assert names == sorted(
        [
            "customer.subscription.created",
            "customer.subscription.updated",
            "invoice.payment_failed",
            "invoice.paid",
            "fleet_dashboard_viewed",
        ]
    )
    assert [s.value for s in session.scalars(select(MetricSample))] == [410.5]
    assert all(r.attempts == 1 for r in session.scalars(select(InboxEvent)))


def test_a_concurrent_burst_is_stored_and_applied_exactly_once(stack, session):
    """Sixteen senders at once (batches share commits and jobs), every event delivered twice:
    one inbox row and one application per event, every duplicate answered as such."""
    account = Account(name="Burst Mining", stripe_customer_id="cus_BURST", segment="mining_farm")
    session.add(account)
    session.commit()
    bodies = [
        orjson.dumps(
            stripe_event(
                f"evt_burst_{i}",
                "invoice.paid",
                invoice(f"in_B{i}", "cus_BURST", "sub_B", 1000 + i),
                NOW - 100 + i,
            )
        )
        for i in range(60)
    ]

    def deliver(body: bytes) -> dict:
        response = _post(stack, "stripe", body, stripe_headers(body))
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(deliver, bodies + bodies))

    assert sum(a["duplicate"] for a in answers) == 60
    wait_until(lambda: _all_done(session, 60), 60, "the worker did not process every delivery")
    paid = session.scalars(select(Event).where(Event.name == "invoice.paid")).all()
    assert len(paid) == 60 and all(e.account_id == account.id for e in paid)
    assert all(r.attempts == 1 for r in session.scalars(select(InboxEvent)))
