"""Offer rules: each fires on its signal and not just below it, once per account and window;
offers are tracked from view to acceptance (detected from a Stripe subscription change)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hub.db import utcnow
from hub.models import Account, Contact, Event, HealthScore, MetricSample, Offer, OutboxMessage
from hub.offers.config import settings
from hub.offers.engine import evaluate_account
from tests.hub.growth.conftest import BASE_URL
from tests.webhooks.helpers import post_stripe, run_jobs
from tests.webhooks.payloads import stripe_event

NOW = utcnow()


def _metric(session, account, metric, value, days_ago):
    session.add(
        MetricSample(
            account_id=account.id,
            source="test",
            subject="",
            metric=metric,
            value=value,
            measured_at=NOW - timedelta(days=days_ago),
        )
    )


def _event(session, account, name, days_ago, contact_id=None, n=0, **props):
    session.add(
        Event(
            account_id=account.id,
            contact_id=contact_id,
            name=name,
            occurred_at=NOW - timedelta(days=days_ago, minutes=n),
            properties=props,
            source="test",
            source_event_id=f"{account.id}-{name}-{days_ago}-{n}",
        )
    )


def storage(session, account, hit):
    _metric(session, account, "storage_used_gb", 85 if hit else 70, 1)


def api(session, account, hit):
    _metric(session, account, "api_calls", 9000 if hit else 5000, 1)


def plateau(session, account, hit):
    for n in range(5):
        _event(session, account, "optimization_run", 2 + n)
    _metric(session, account, "efficiency_j_th", 25.0 if hit else 30.0, 40)
    _metric(session, account, "efficiency_j_th", 25.0, 10)


def roi(session, account, hit):
    account.segment = "crypto_trader"
    account.attributes = {"target_yield_pct": 8.0}
    _metric(session, account, "yield_pct", 13.0 if hit else 11.0, 3)


def efficiency(session, account, hit):
    _metric(session, account, "efficiency_j_th", 30.0, 100)
    _metric(session, account, "efficiency_j_th", 20.0 if hit else 22.0, 5)


def renewal(session, account, hit):
    account.renewal_date = date.today() + timedelta(days=45 if hit else 90)


def premium(session, account, hit):
    account.plan = "pro"
    account.signup_date = date.today() - timedelta(days=200)
    for day in range(120 if hit else 60):
        _event(session, account, "session_start", day + 1)
    session.add(HealthScore(account_id=account.id, score=82, tier="healthy"))


def hardware(session, account, hit):
    account.attributes = {} if hit else {"products": ["hardware_integration"]}


def trading(session, account, hit):
    account.segment = "mining_farm"
    account.plan = "pro"
    account.signup_date = date.today() - timedelta(days=60 if hit else 10)


def compliance(session, account, hit):
    account.segment = "institution"
    account.plan = "enterprise"
    if not hit:
        account.attributes = {"products": ["compliance_suite"]}


def tickets(session, account, hit):
    for n in range(3 if hit else 2):
        _event(session, account, "support_ticket_created", 3 + n)


def heavy_api(session, account, hit):
    for day in range(1, 29, 3):
        _metric(session, account, "api_calls", 6000 if hit else 4000, day)


def team(session, account, hit):
    for n in range(4 if hit else 2):
        contact = Contact(account_id=account.id, email=f"u{n}@team.io", name=f"U{n}")
        session.add(contact)
        session.flush()
        _event(session, account, "session_start", 2, contact_id=contact.id, n=n)


CASES = {
    "storage_80pct": storage,
    "api_limit_approaching": api,
    "optimisation_plateau": plateau,
    "roi_target_exceeded": roi,
    "efficiency_gain": efficiency,
    "renewal_annual_discount": renewal,
    "premium_trial": premium,
    "cross_sell_hardware_integration": hardware,
    "cross_sell_trading_module": trading,
    "cross_sell_compliance_suite": compliance,
    "premium_support": tickets,
    "custom_integration": heavy_api,
    "team_training": team,
}


def _offers(session, account_id):
    return {
        o.rule_key: o for o in session.scalars(select(Offer).where(Offer.account_id == account_id))
    }


def _all_at_once(session):
    """The offers document with the one-offer-per-run limit lifted (to see every rule)."""
    _version, doc = settings(session)
    return {**doc, "max_new_offers_per_account": 99}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_its_signal_once_per_window(rule, app, session, make_account):
    """The rule makes one offer when its signal is met; a re-run makes no second one."""
    account = make_account("Hit", email="owner@hit.io")
    CASES[rule](session, account, True)
    session.commit()
    doc = _all_at_once(session)
    made = evaluate_account(session, account, NOW, BASE_URL, doc)
    assert rule in {o.rule_key for o in made}
    assert evaluate_account(session, account, NOW, BASE_URL, doc) == []
    # a day later, still in the window: nothing new either
    tomorrow = NOW + timedelta(days=1)
    later = [o.rule_key for o in evaluate_account(session, account, tomorrow, BASE_URL, doc)]
    assert rule not in later
    offer = _offers(session, account.id)[rule]
    assert offer.status == "offered" and offer.details["evidence"]
    assert offer.expires_at > NOW


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_stays_quiet_just_below_its_signal(rule, app, session, make_account):
    """The same data just short of the threshold makes no offer for that rule."""
    account = make_account("Miss", email="owner@miss.io")
    CASES[rule](session, account, False)
    session.commit()
    evaluate_account(session, account, NOW, BASE_URL, _all_at_once(session))
    assert rule not in _offers(session, account.id)


def test_window_reopens_after_it_passes(app, session, make_account):
    """A windowed rule may offer again once its window has passed."""
    account = make_account("Again", segment="crypto_trader", email="owner@again.io")
    tickets(session, account, True)
    session.commit()
    assert "premium_support" in {
        o.rule_key for o in evaluate_account(session, account, NOW, BASE_URL)
    }
    for n in range(3):
        _event(session, account, "support_ticket_created", -95 + n)  # 95 days on
    session.commit()
    later = evaluate_account(session, account, NOW + timedelta(days=100), BASE_URL)
    assert "premium_support" in {o.rule_key for o in later}
    assert len([o for o in session.scalars(select(Offer)) if o.rule_key == "premium_support"]) == 2


def test_delivery_messages_and_salesforce_work(app, session, make_account):
    """Self-serve offers e-mail the customer; those a person closes queue Salesforce work."""
    account = make_account("Deliver", email="owner@deliver.io", salesforce_id="001000000000001")
    storage(session, account, True)
    tickets(session, account, True)
    session.commit()
    evaluate_account(session, account, NOW, BASE_URL, _all_at_once(session))
    offers = _offers(session, account.id)
    rows = session.scalars(select(OutboxMessage)).all()
    by_key = {r.idempotency_key: r for r in rows}
    email = by_key[f"offer:{offers['storage_80pct'].id}:email"]
    assert "85%" in email.subject and f"{BASE_URL}/o/" in email.body
    assert f"offer-work:{offers['storage_80pct'].id}" not in by_key
    task = by_key[f"offer-work:{offers['premium_support'].id}"]
    assert (
        task.channel == "sf_task" and task.payload["account_salesforce_id"] == account.salesforce_id
    )


def test_view_link_then_stripe_upgrade_accepts(app, client, session, make_account):
    """Opening the link marks the offer viewed; the Stripe upgrade to its plan accepts it."""
    account = make_account("Upgr", email="owner@upgr.io", stripe_customer_id="cus_U")
    storage(session, account, True)
    session.commit()
    evaluate_account(session, account, NOW, BASE_URL)
    offer = _offers(session, account.id)["storage_80pct"]
    link = session.scalar(
        select(OutboxMessage.payload).where(
            OutboxMessage.idempotency_key == f"offer:{offer.id}:email"
        )
    )["link"]
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302 and "target=pro" in response.headers["Location"]
    tampered = urlsplit(link).path[:-3] + "abc"
    assert client.get(tampered).status_code == 400
    session.expire_all()
    assert session.get(Offer, offer.id).status == "viewed"
    sub = {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_U",
        "status": "active",
        "currency": "usd",
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "quantity": 1,
                    "price": {
                        "id": "price_pro",
                        "lookup_key": "pro",
                        "unit_amount": 14900,
                        "currency": "usd",
                        "recurring": {"interval": "month"},
                    },
                }
            ],
        },
    }
    assert (
        post_stripe(
            client,
            stripe_event(
                "evt_sub",
                "customer.subscription.updated",
                sub,
                created=int(NOW.timestamp()) + 60,
            ),
        ).status_code
        == 200
    )
    run_jobs(app)
    session.expire_all()
    accepted = session.get(Offer, offer.id)
    assert accepted.status == "accepted" and accepted.details["history"][-1]["source"] == "stripe"
    names = set(session.scalars(select(Event.name).where(Event.source == "hub")))
    assert {"offer_made", "offer_viewed", "offer_accepted"} <= names  # for playbook triggers


def test_expiry_decline_and_metrics(app, client, session, admin_headers, make_account):
    """Unanswered offers expire; a decline is recorded; rates are computed from the rows."""
    from jobs.growth import evaluate_offers

    a = make_account("A", email="a@a.io")
    b = make_account("B", email="b@b.io")
    storage(session, a, True)
    storage(session, b, True)
    session.commit()
    evaluate_account(session, a, NOW, BASE_URL)
    evaluate_account(session, b, NOW, BASE_URL)
    offer_a = _offers(session, a.id)["storage_80pct"]
    response = client.post(
        f"/api/offers/{offer_a.id}/status", json={"status": "declined"}, headers=admin_headers
    )
    assert response.status_code == 200 and response.json["status"] == "declined"
    again = client.post(
        f"/api/offers/{offer_a.id}/status", json={"status": "accepted"}, headers=admin_headers
    )
    assert again.status_code == 409
    with app.app_context():
        result = evaluate_offers((NOW + timedelta(days=31)).isoformat())
    assert result["expired"] >= 1
    session.expire_all()
    assert session.get(Offer, _offers(session, b.id)["storage_80pct"].id).status == "expired"
    metrics = client.get("/api/offers/metrics", headers=admin_headers).json
    rule = metrics["by_rule"]["storage_80pct"]
    assert rule["made"] == 2 and rule["status"]["declined"] == 1 and rule["status"]["expired"] == 1
    assert rule["conversion_rate"] == 0.0 and metrics["measured"] is True


def test_config_edit_is_validated_and_versioned(client, admin_headers):
    """An admin edit with an unknown signal is refused with the field; a good one is v1."""
    doc = client.get("/api/offers/config", headers=admin_headers).json
    assert doc["version"] == 0 and len(doc["document"]["rules"]) == 13
    bad = doc["document"]
    bad["rules"][0]["signal"] = "moon_phase"
    response = client.put("/api/offers/config", json={"document": bad}, headers=admin_headers)
    assert response.status_code == 422 and "rules" in response.json["error"]["fields"]
    bad["rules"][0]["signal"] = "storage_usage"
    bad["rules"][0]["params"]["threshold"] = 0.9
    response = client.put("/api/offers/config", json={"document": bad}, headers=admin_headers)
    assert response.status_code == 200 and response.json["version"] == 1
    assert (
        client.put("/api/offers/config", json={"yaml": "rules: [\n"}, headers=admin_headers).json[
            "error"
        ]["code"]
        == "invalid_document"
    )


def test_churned_accounts_get_no_offers(app, session, make_account):
    """Offers go only to live accounts."""
    account = make_account("Gone", email="g@gone.io", status="churned")
    storage(session, account, True)
    session.commit()
    assert evaluate_account(session, session.get(Account, account.id), NOW, BASE_URL) == []


def test_opportunity_offers_wait_for_salesforce(app, session, make_account):
    """Offers a person closes by Opportunity are picked up for Salesforce; unconfigured skips."""
    from hub.offers import crm
    from jobs.growth import open_offer_opportunities

    account = make_account(
        "Inst",
        segment="institution",
        plan="enterprise",
        email="o@inst.io",
        salesforce_id="001000000000009",
    )
    session.commit()
    made = evaluate_account(session, account, NOW, BASE_URL)
    session.commit()
    opportunity_rules = {o.rule_key for o in made if o.details["close_by"] == "opportunity"}
    assert "cross_sell_compliance_suite" in opportunity_rules
    ids = crm.pending(session)
    assert ids and all(session.get(Offer, i).salesforce_id is None for i in ids)
    spec = crm.describe(session.get(Offer, ids[0]), account)
    assert spec["name"].startswith("Inst: ") and spec["close_date"] > date.today()
    with app.app_context():
        result = open_offer_opportunities()
    assert result.get("skipped") == "salesforce not configured", result


def test_one_new_offer_per_account_per_run_in_rule_order(app, session, make_account):
    """Several signals at once make one offer (the first rule) now; the next run the next."""
    account = make_account("Busy", email="o@busy.io")
    storage(session, account, True)
    tickets(session, account, True)
    session.commit()
    first = [o.rule_key for o in evaluate_account(session, account, NOW, BASE_URL)]
    second = [o.rule_key for o in evaluate_account(session, account, NOW, BASE_URL)]
    assert first == ["storage_80pct"]
    assert second == ["cross_sell_hardware_integration"]
