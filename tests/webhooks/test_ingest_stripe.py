"""Stripe events processed by the real worker path into account state and revenue changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from hub.ingest import hooks
from hub.models import Account, Event, InboxEvent, SubscriptionChange
from tests.webhooks.helpers import post_stripe, run_jobs
from tests.webhooks.payloads import NOW, invoice, price, stripe_event, subscription

CUSTOMER = "cus_Miner001"


@pytest.fixture
def account(session):
    row = Account(name="Hash Mining", stripe_customer_id=CUSTOMER, segment="individual_miner")
    session.add(row)
    session.commit()
    return row


def deliver(app, client, session, *events):
    for event in events:
        response = post_stripe(client, event)
        assert response.status_code == 200, response.data
    run_jobs(app)
    session.expire_all()


def changes(session):
    return [
        (c.kind, c.mrr_before, c.mrr_after)
        for c in session.scalars(select(SubscriptionChange).order_by(SubscriptionChange.id))
    ]


def test_subscription_created_sets_plan_mrr_status_renewal(app, client, session, account):
    """A new paid subscription: plan, MRR, active, renewal date, a 'new' revenue change."""
    end = NOW + 20 * 86400
    sub = subscription(period_end=end)
    deliver(app, client, session, stripe_event("evt_c1", "customer.subscription.created", sub))
    assert account.plan == "pro" and account.mrr == 149.0 and account.status == "active"
    assert account.renewal_date == datetime.fromtimestamp(end, UTC).date()
    assert account.stripe_subscription_id == "sub_1QxAbc"
    assert changes(session) == [("new", 0.0, 149.0)]
    event = session.scalars(select(Event).where(Event.source == "stripe")).one()
    assert (event.name, event.account_id, event.source_event_id) == (
        "customer.subscription.created",
        account.id,
        "evt_c1",
    )
    row = session.scalars(select(InboxEvent)).one()
    assert row.status == "processed" and row.attempts == 1 and row.result["mrr_after"] == 149.0


def test_quantity_and_yearly_prices_are_normalised_to_a_month(app, client, session, account):
    """MRR = unit amount x quantity per month; a yearly price counts a twelfth."""
    sub = subscription(
        prices=[
            (price(unit_amount=14900), 3),
            (price("price_api_yearly", 120000, "year", "api"), 1),
        ]
    )
    deliver(app, client, session, stripe_event("evt_q1", "customer.subscription.created", sub))
    assert account.mrr == pytest.approx(447.0 + 100.0)
    assert account.plan == "pro"  # the item that brings the most revenue


def test_upgrade_then_downgrade_are_expansion_and_contraction(app, client, session, account):
    created = stripe_event("evt_u0", "customer.subscription.created", subscription(), NOW - 30)
    upgraded = stripe_event(
        "evt_u1",
        "customer.subscription.updated",
        subscription(prices=[(price("price_ent", 49900, nickname="enterprise"), 1)]),
        NOW - 20,
        previous={"items": {}},
    )
    downgraded = stripe_event(
        "evt_u2",
        "customer.subscription.updated",
        subscription(prices=[(price(unit_amount=4900, nickname="starter"), 1)]),
        NOW - 10,
    )
    deliver(app, client, session, created, upgraded, downgraded)
    assert changes(session) == [
        ("new", 0.0, 149.0),
        ("expansion", 149.0, 499.0),
        ("contraction", 499.0, 49.0),
    ]
    assert account.plan == "starter" and account.mrr == 49.0


def test_older_event_does_not_overwrite_newer_state(app, client, session, account):
    """Stripe does not promise order: an event older than the applied one changes nothing."""
    newer = stripe_event(
        "evt_o2",
        "customer.subscription.updated",
        subscription(prices=[(price(unit_amount=29900, nickname="pro_plus"), 1)]),
        NOW - 5,
    )
    older = stripe_event("evt_o1", "customer.subscription.created", subscription(), NOW - 60)
    deliver(app, client, session, newer)
    deliver(app, client, session, older)
    assert account.plan == "pro_plus" and account.mrr == 299.0
    stale = session.scalars(select(InboxEvent).where(InboxEvent.external_id == "evt_o1")).one()
    assert stale.status == "processed" and stale.result["stale"] is True


def test_deleted_churns_and_recreated_reactivates(app, client, session, account):
    """Cancellation churns the account (churned_at, MRR 0); a new subscription reactivates."""
    ended = NOW - 15
    deliver(
        app,
        client,
        session,
        stripe_event("evt_d0", "customer.subscription.created", subscription(), NOW - 100),
        stripe_event(
            "evt_d1",
            "customer.subscription.deleted",
            subscription(status="canceled", ended_at=ended, canceled_at=ended),
            NOW - 10,
        ),
    )
    assert account.status == "churned" and account.mrr == 0.0
    assert account.churned_at == datetime.fromtimestamp(ended, UTC)
    assert account.lifecycle_stage == "churned"
    deliver(
        app,
        client,
        session,
        stripe_event(
            "evt_d2", "customer.subscription.created", subscription("sub_2NewOne"), NOW - 5
        ),
    )
    assert account.status == "active" and account.churned_at is None and account.mrr == 149.0
    assert [k for k, *_ in changes(session)] == ["new", "churn", "reactivation"]


def test_trial_counts_no_revenue_until_it_converts(app, client, session, account):
    trial = subscription(status="trialing", trial_end=NOW + 86400)
    deliver(app, client, session, stripe_event("evt_t0", "customer.subscription.created", trial))
    assert account.status == "trial" and account.mrr == 0.0 and changes(session) == []
    warn = stripe_event("evt_t1", "customer.subscription.trial_will_end", trial)
    deliver(app, client, session, warn)
    event = session.scalars(select(Event).where(Event.source_event_id == "evt_t1")).one()
    assert event.name == "customer.subscription.trial_will_end"
    assert event.properties["trial_end"] == NOW + 86400
    converted = stripe_event(
        "evt_t2", "customer.subscription.updated", subscription(), NOW + 1, previous={}
    )
    deliver(app, client, session, converted)
    assert account.status == "active" and changes(session) == [("new", 0.0, 149.0)]


def test_cancel_at_period_end_marks_canceled_but_keeps_revenue(app, client, session, account):
    sub = subscription(cancel_at_period_end=True)
    deliver(app, client, session, stripe_event("evt_x1", "customer.subscription.created", sub))
    assert account.status == "canceled" and account.mrr == 149.0


@pytest.mark.parametrize("new_shape", [True, False], ids=["parent-2025", "subscription-legacy"])
def test_invoice_failed_then_paid_in_both_invoice_shapes(app, client, session, account, new_shape):
    """invoice.payment_failed -> past_due, invoice.paid -> active; the subscription id is read
    from invoice.parent.subscription_details (2025+) or invoice.subscription (older)."""
    deliver(
        app,
        client,
        session,
        stripe_event("evt_i0", "customer.subscription.created", subscription(), NOW - 100),
    )
    failed = stripe_event(
        "evt_i1",
        "invoice.payment_failed",
        invoice("in_1", status="open", new_shape=new_shape),
        NOW - 50,
    )
    deliver(app, client, session, failed)
    assert account.status == "past_due"
    paid = stripe_event("evt_i2", "invoice.paid", invoice("in_1", new_shape=new_shape), NOW - 40)
    deliver(app, client, session, paid)
    assert account.status == "active"
    events = {
        e.source_event_id: e.properties
        for e in session.scalars(select(Event).where(Event.name.like("invoice.%")))
    }
    assert events["evt_i1"]["subscription"] == "sub_1QxAbc"
    assert events["evt_i2"] == events["evt_i2"] | {
        "subscription": "sub_1QxAbc",
        "amount": 149.0,
        "currency": "USD",
    }


def test_unknown_customer_is_processed_without_an_account(app, client, session):
    """An event for a customer the hub does not know is kept (Event row), not retried."""
    sub = subscription(customer="cus_Nobody")
    deliver(app, client, session, stripe_event("evt_n1", "customer.subscription.created", sub))
    row = session.scalars(select(InboxEvent)).one()
    assert row.status == "processed" and row.result["account_id"] is None
    event = session.scalars(select(Event)).one()
    assert event.account_id is None and event.properties["subscription"] == "sub_1QxAbc"


def test_replaying_a_processed_event_changes_nothing(app, client, session, account, admin_headers):
    """Processing is idempotent: a replay adds no second revenue change or event."""
    deliver(
        app,
        client,
        session,
        stripe_event("evt_r1", "customer.subscription.created", subscription()),
    )
    row = session.scalars(select(InboxEvent)).one()
    assert client.post(f"/api/inbox/{row.id}/replay", headers=admin_headers).status_code == 202
    run_jobs(app)
    session.expire_all()
    assert changes(session) == [("new", 0.0, 149.0)]
    assert len(session.scalars(select(Event)).all()) == 1
    assert row.attempts == 2 and row.status == "processed" and account.mrr == 149.0


def test_hook_makes_an_unhandled_type_processed_and_sees_the_account(app, client, session, account):
    """A capability subscribed to charge.dispute.created gets the event, in the transaction."""
    seen = []

    def on_dispute(ctx: hooks.HookContext) -> None:
        seen.append((ctx.event_type, ctx.account.id if ctx.account else None))
        ctx.account.attributes = {**ctx.account.attributes, "disputed": True}

    hooks.subscribe("stripe", "charge.dispute.created", on_dispute)
    try:
        dispute = {"id": "dp_1", "object": "dispute", "customer": CUSTOMER, "amount": 14900}
        deliver(app, client, session, stripe_event("evt_h1", "charge.dispute.created", dispute))
    finally:
        hooks.unsubscribe("stripe", "charge.dispute.created", on_dispute)
    assert seen == [("charge.dispute.created", account.id)]
    assert account.attributes["disputed"] is True
    row = session.scalars(select(InboxEvent)).one()
    assert row.status == "processed" and row.result["hooks"] >= 1


def test_renewal_date_from_subscription_level_period_in_older_api_versions(
    app, client, session, account
):
    end = int(datetime(2031, 5, 17, 12, tzinfo=UTC).timestamp())
    sub = subscription(period_end=end, item_level_period=False)
    event = stripe_event("evt_old1", "customer.subscription.created", sub, api_version="2024-06-20")
    deliver(app, client, session, event)
    assert account.renewal_date == date(2031, 5, 17)
