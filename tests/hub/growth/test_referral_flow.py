"""The referral path end to end: invite, click, signup webhook, first paid invoice, reward
paid through (faked) Stripe exactly once, including replays and retried jobs."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from hub.db import utcnow
from hub.models import Contact, OutboxMessage, Referral, RewardLedgerEntry
from tests.hub.growth.conftest import BASE_URL
from tests.webhooks.helpers import post_events, post_stripe, run_jobs
from tests.webhooks.payloads import stripe_event


def _invite_via_promoter(client, admin_headers, session, account):
    contact = session.scalar(select(Contact).where(Contact.account_id == account.id))
    answer = client.post(
        "/api/feedback/responses",
        json={
            "account_id": account.id,
            "contact_id": contact.id,
            "kind": "nps",
            "score": 10,
            "comment": "Brilliant tool, our hashrate went up and support is quick",
        },
        headers=admin_headers,
    )
    assert answer.status_code == 201, answer.json
    invite = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.step_key == "referral_invite", OutboxMessage.channel == "email"
        )
    )
    assert invite is not None and invite.contact_id == contact.id
    return invite.payload["link"]


def _click(client, link):
    path = urlsplit(link).path
    response = client.get(path)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return query["ref"][0], query["rc"][0], response


def _signup(client, app, msg_id, customer, email, click=None, code=None):
    doc = {
        "type": "account.signup",
        "timestamp": utcnow().isoformat(),
        "data": {
            "account": {"stripe_customer_id": customer},
            "user": {"email": email},
            **({"referral_click": click} if click else {}),
            **({"referral_code": code} if code else {}),
        },
    }
    assert post_events(client, doc, msg_id).status_code in (200, 202)
    run_jobs(app)


def _invoice_paid(event_id, customer, amount=14900, invoice="in_1"):
    return stripe_event(
        event_id,
        "invoice.paid",
        {
            "id": invoice,
            "object": "invoice",
            "customer": customer,
            "amount_paid": amount,
            "currency": "usd",
            "billing_reason": "subscription_create",
            "status": "paid",
        },
    )


def _grant(app, days):
    from jobs.growth import grant_rewards

    with app.app_context():
        return grant_rewards((utcnow() + timedelta(days=days)).isoformat())


def test_referral_end_to_end_pays_referrer_once(
    app, client, session, admin_headers, make_account, stripe_fake
):
    """Invite -> click -> signup -> invoice.paid -> one balance credit, despite replays."""
    referrer = make_account(
        "Alpha Mining", email="alice@alpha-mining.io", stripe_customer_id="cus_A"
    )
    make_account(
        "Beta Farms",
        segment="mining_farm",
        email="bob@beta-farms.io",
        stripe_customer_id="cus_B",
        tenure_days=0,
    )
    stripe_fake.add_customer("cus_A", "alice@alpha-mining.io", card_fingerprint="fpA")
    stripe_fake.add_customer("cus_B", "bob@beta-farms.io", card_fingerprint="fpB")

    link = _invite_via_promoter(client, admin_headers, session, referrer)
    assert link.startswith(f"{BASE_URL}/r/")
    code, click_token, response = _click(client, link)
    assert link.endswith(code)
    assert "cshub_ref" in response.headers.get("Set-Cookie", "")
    # the same visitor again (cookie kept by the test client) is one referral, two clicks
    _click(client, link)
    assert session.scalar(select(Referral.id).where(Referral.click_token == click_token))
    assert len(session.scalars(select(Referral)).all()) == 1

    _signup(client, app, "msg_signup_1", "cus_B", "bob@beta-farms.io", click=click_token)
    session.expire_all()
    referral = session.scalar(select(Referral))
    assert referral.status == "signed_up" and referral.source == "link"
    # the referred customer's discount is paid at once, as a customer-restricted code
    assert len(stripe_fake.promotion_codes) == 1
    assert stripe_fake.promotion_codes[0]["customer"] == "cus_B"

    event = _invoice_paid("evt_paid_1", "cus_B")
    assert post_stripe(client, event).status_code == 200
    run_jobs(app)
    assert post_stripe(client, event).status_code == 200  # Stripe redelivers
    run_jobs(app)
    session.expire_all()
    referral = session.get(Referral, referral.id)
    assert referral.status == "converted" and referral.revenue == 149.0
    held = session.scalar(select(RewardLedgerEntry).where(RewardLedgerEntry.role == "referrer"))
    assert held.status == "pending" and held.hold_until > utcnow() + timedelta(days=29)
    assert stripe_fake.balance_transactions["cus_A"] == []  # nothing paid during the hold

    assert _grant(app, 31) == {"granted": 1}
    assert _grant(app, 32) == {}
    txns = stripe_fake.balance_transactions["cus_A"]
    assert len(txns) == 1 and txns[0]["amount"] == -10000 and txns[0]["currency"] == "usd"
    assert stripe_fake.customers["cus_A"]["balance"] == -10000
    posts = stripe_fake.posts(r"/balance_transactions$")
    assert all(key == "cshub-reward-" + held.idempotency_key for _, _, key in posts)
    session.expire_all()
    assert session.get(Referral, referral.id).status == "rewarded"
    assert session.get(RewardLedgerEntry, held.id).stripe_object_id == txns[0]["id"]
    # the measured funnel and programme return, from these rows only
    until = (utcnow() + timedelta(days=40)).isoformat()
    metrics = client.get(
        "/api/referrals/metrics", query_string={"until": until}, headers=admin_headers
    ).json
    funnel, programme = metrics["funnel"], metrics["programme"]
    assert (funnel["invited_contacts"], funnel["clicked"], funnel["signed_up"]) == (1, 1, 1)
    assert funnel["converted"] == 1 and funnel["signup_to_conversion"] == 1.0
    assert programme["revenue_from_referred"] == 149.0 and programme["reward_cost"] == 100.0
    assert programme["roi"] == 0.49
    ledger = client.get("/api/referrals/rewards", headers=admin_headers).json
    assert {(e["role"], e["kind"], e["status"]) for e in ledger} == {
        ("referrer", "account_credit", "granted"),
        ("referred", "first_year_discount", "granted"),
    }


def test_retried_grant_after_lost_response_creates_one_credit(
    app, client, session, admin_headers, make_account, stripe_fake
):
    """Stripe did the work but every answer was lost: the retry reconciles, no second credit."""
    make_account("Alpha Mining", email="alice@alpha-mining.io", stripe_customer_id="cus_A")
    make_account("Gamma", email="g@gamma.io", stripe_customer_id="cus_G", tenure_days=0)
    stripe_fake.add_customer("cus_A", "alice@alpha-mining.io")
    stripe_fake.add_customer("cus_G", "g@gamma.io")
    contact = session.scalar(select(Contact).where(Contact.email == "alice@alpha-mining.io"))
    code = client.post(
        "/api/referrals/codes", json={"contact_id": contact.id}, headers=admin_headers
    ).json["code"]
    _signup(client, app, "msg_g", "cus_G", "g@gamma.io", code=code.lower())
    post_stripe(client, _invoice_paid("evt_g1", "cus_G", invoice="in_g"))
    run_jobs(app)

    stripe_fake.fail_next(r"/balance_transactions$", mode="drop", times=3)
    assert _grant(app, 31) == {"retry": 1}
    entry_id = session.scalar(
        select(RewardLedgerEntry.id).where(RewardLedgerEntry.role == "referrer")
    )
    entry = session.get(RewardLedgerEntry, entry_id)
    assert entry.status == "granting" and "unreachable" in entry.last_error
    assert len(stripe_fake.balance_transactions["cus_A"]) == 1  # the work was done once
    assert _grant(app, 31) == {"granted": 1}
    assert len(stripe_fake.balance_transactions["cus_A"]) == 1
    entry = session.get(RewardLedgerEntry, entry_id)
    assert entry.stripe_object_id == stripe_fake.balance_transactions["cus_A"][0]["id"]


def test_concurrent_grants_share_one_stripe_idempotency_key(
    app, client, session, admin_headers, make_account, stripe_fake
):
    """Two workers paying the same ledger row send one key; Stripe replays the first credit."""
    from hub.referrals.rewards import grant

    make_account("Alpha Mining", email="alice@alpha-mining.io", stripe_customer_id="cus_A")
    make_account("Delta", email="d@delta.io", stripe_customer_id="cus_D", tenure_days=0)
    stripe_fake.add_customer("cus_A", "alice@alpha-mining.io")
    contact = session.scalar(select(Contact).where(Contact.email == "alice@alpha-mining.io"))
    code = client.post(
        "/api/referrals/codes", json={"contact_id": contact.id}, headers=admin_headers
    ).json["code"]
    _signup(client, app, "msg_d", "cus_D", "d@delta.io", code=code)
    post_stripe(client, _invoice_paid("evt_d1", "cus_D", invoice="in_d"))
    run_jobs(app)
    entry = session.scalar(select(RewardLedgerEntry).where(RewardLedgerEntry.role == "referrer"))
    later = utcnow() + timedelta(days=31)
    with app.app_context():
        assert grant(entry.id, later) == "granted"
        # a second worker that had read the row before the first committed
        with app.app_context():
            from hub.db import db

            with db.begin() as s:
                s.get(RewardLedgerEntry, entry.id).status = "pending"
        assert grant(entry.id, later) == "granted"
    assert len(stripe_fake.balance_transactions["cus_A"]) == 1
    assert len(stripe_fake.posts(r"/balance_transactions$")) == 2  # the second was replayed
