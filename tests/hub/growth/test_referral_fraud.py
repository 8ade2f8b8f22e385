"""Fraud checks: self-referral by account, company email domain and card; caps; refunds and
chargebacks inside the hold window reverse the reward; codes resist typos and guessing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.db import utcnow
from hub.models import Contact, Referral, RewardLedgerEntry
from hub.referrals import codes
from tests.hub.growth.test_referral_flow import _grant, _invoice_paid, _signup
from tests.webhooks.helpers import post_stripe, run_jobs
from tests.webhooks.payloads import stripe_event


@pytest.fixture
def referrer(session, make_account, stripe_fake, client, admin_headers):
    account = make_account(
        "Alpha Mining",
        email="alice@alpha-mining.io",
        stripe_customer_id="cus_A",
        domain="alpha-mining.io",
    )
    stripe_fake.add_customer("cus_A", "alice@alpha-mining.io", card_fingerprint="fpA")
    contact = session.scalar(select(Contact).where(Contact.account_id == account.id))
    code = client.post(
        "/api/referrals/codes", json={"contact_id": contact.id}, headers=admin_headers
    ).json["code"]
    return account, code


def _referral(session, email):
    session.expire_all()
    return session.scalar(select(Referral).where(Referral.referred_email == email))


def test_same_company_domain_is_rejected_but_webmail_is_not(
    app, client, session, make_account, referrer
):
    """A signup from the referrer's own company domain is a self-referral; gmail is not."""
    _, code = referrer
    make_account("Alpha Two", email="carol@alpha-mining.io", stripe_customer_id="cus_C")
    _signup(client, app, "m1", "cus_C", "carol@alpha-mining.io", code=code)
    rejected = _referral(session, "carol@alpha-mining.io")
    assert rejected.status == "rejected" and rejected.rejection_reason == "same_email_domain"
    assert session.scalars(select(RewardLedgerEntry)).all() == []
    make_account("Dee", email="dee@gmail.com", stripe_customer_id="cus_D")
    _signup(client, app, "m2", "cus_D", "dee@gmail.com", code=code)
    assert _referral(session, "dee@gmail.com").status == "signed_up"


def test_own_account_cannot_use_its_code(app, client, session, referrer):
    """The referrer's own account signing up with its code is rejected."""
    account, code = referrer
    _signup(client, app, "m1", "cus_A", "someone@else.io", code=code)
    session.expire_all()
    referral = session.scalar(select(Referral))
    assert referral.referred_account_id == account.id
    assert referral.status == "rejected" and referral.rejection_reason == "same_account"


def test_same_card_reverses_the_reward_before_paying(
    app, client, session, make_account, stripe_fake, referrer
):
    """Referrer and referred paying with the same card: nothing is credited."""
    _, code = referrer
    make_account("Sneaky", email="x@sneaky.io", stripe_customer_id="cus_S")
    stripe_fake.add_customer("cus_S", "x@sneaky.io", card_fingerprint="fpA")
    _signup(client, app, "m1", "cus_S", "x@sneaky.io", code=code)
    post_stripe(client, _invoice_paid("evt_s", "cus_S", invoice="in_s"))
    run_jobs(app)
    assert _grant(app, 31) == {"reversed": 1}
    assert stripe_fake.balance_transactions["cus_A"] == []
    referral = _referral(session, "x@sneaky.io")
    assert referral.status == "rejected"
    assert referral.rejection_reason == "same_payment_fingerprint"


def test_reward_cap_per_period(
    app, client, session, admin_headers, make_account, referrer, stripe_fake
):
    """Past the cap of rewarded referrals per period, further rewards are capped, not paid."""
    _, code = referrer
    response = client.get("/api/referrals/config", headers=admin_headers)
    doc = response.json["document"]
    doc["fraud"]["caps"]["rewards_per_referrer"] = 1
    assert (
        client.put(
            "/api/referrals/config", json={"document": doc}, headers=admin_headers
        ).status_code
        == 200
    )
    for n in (1, 2):
        make_account(f"New {n}", email=f"n{n}@new{n}.io", stripe_customer_id=f"cus_N{n}")
        stripe_fake.add_customer(f"cus_N{n}", f"n{n}@new{n}.io", card_fingerprint=f"fp{n}")
        _signup(client, app, f"m{n}", f"cus_N{n}", f"n{n}@new{n}.io", code=code)
        post_stripe(client, _invoice_paid(f"evt_n{n}", f"cus_N{n}", invoice=f"in_n{n}"))
        run_jobs(app)
    session.expire_all()
    statuses = sorted(
        session.scalars(
            select(RewardLedgerEntry.status).where(RewardLedgerEntry.role == "referrer")
        )
    )
    assert statuses == ["capped", "pending"]
    assert _grant(app, 31) == {"granted": 1}
    assert len(stripe_fake.balance_transactions["cus_A"]) == 1


def test_refund_in_hold_window_reverses_pending_reward(
    app, client, session, make_account, stripe_fake, referrer
):
    """A full refund of the referred customer's payment during the hold reverses the reward."""
    _, code = referrer
    make_account("Refunder", email="r@refund.io", stripe_customer_id="cus_R")
    _signup(client, app, "m1", "cus_R", "r@refund.io", code=code)
    post_stripe(client, _invoice_paid("evt_r", "cus_R", invoice="in_r"))
    run_jobs(app)
    partial = {
        "id": "ch_p",
        "object": "charge",
        "customer": "cus_R",
        "refunded": False,
        "amount": 14900,
        "amount_refunded": 1000,
    }
    post_stripe(client, stripe_event("evt_part", "charge.refunded", partial))
    run_jobs(app)
    assert _referral(session, "r@refund.io").status == "converted"  # partial: no reversal
    full = {**partial, "id": "ch_r", "refunded": True, "amount_refunded": 14900}
    post_stripe(client, stripe_event("evt_full", "charge.refunded", full))
    run_jobs(app)
    referral = _referral(session, "r@refund.io")
    assert referral.status == "reversed" and referral.rejection_reason == "refund"
    assert _grant(app, 31) == {}
    assert stripe_fake.balance_transactions["cus_A"] == []


def test_chargeback_reverses_pending_reward(
    app, client, session, make_account, stripe_fake, referrer
):
    """A dispute names only the charge: the job reads it from Stripe and reverses the reward."""
    _, code = referrer
    make_account("Disputer", email="d@dispute.io", stripe_customer_id="cus_X")
    stripe_fake.add_charge("ch_x", "cus_X")
    _signup(client, app, "m1", "cus_X", "d@dispute.io", code=code)
    post_stripe(client, _invoice_paid("evt_x", "cus_X", invoice="in_x"))
    run_jobs(app)
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "charge": "ch_x",
        "amount": 14900,
        "status": "needs_response",
    }
    post_stripe(client, stripe_event("evt_dp", "charge.dispute.created", dispute))
    run_jobs(app)
    assert _referral(session, "d@dispute.io").status == "reversed"
    assert _grant(app, 31) == {}


def test_paid_invoice_after_conversion_window_earns_nothing(
    app, client, session, make_account, referrer
):
    """A first payment later than the conversion window does not convert the referral."""
    _, code = referrer
    make_account("Late", email="l@late.io", stripe_customer_id="cus_L")
    _signup(client, app, "m1", "cus_L", "l@late.io", code=code)
    late = int((utcnow() + timedelta(days=200)).timestamp())
    event = _invoice_paid("evt_l", "cus_L", invoice="in_l")
    event["created"] = late
    post_stripe(client, event, t=None)
    run_jobs(app)
    assert _referral(session, "l@late.io").status == "expired"


def test_unknown_or_mistyped_code_attributes_nothing(client, admin_headers, referrer):
    """A code with a typo fails its check character and is refused as unknown."""
    _, code = referrer
    canonical = codes.normalize(code)
    wrong = canonical[:3] + ("0" if canonical[3] != "0" else "1") + canonical[4:]
    response = client.post(
        "/api/referrals/signups", json={"code": wrong, "email": "a@b.io"}, headers=admin_headers
    )
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_code"
    assert client.get(f"/r/{wrong}").status_code == 404


def test_codes_are_readable_checked_and_forgiving():
    """Codes avoid ambiguous letters, carry a check symbol and survive case/format changes."""
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in list(made)[:200]:
        assert not set(code) & set("ILOU")
        assert codes.is_valid(code)
        shown = codes.display(code)
        assert codes.normalize(shown.lower().replace("0", "o")) == code
        for i in range(len(code) - 1):  # every adjacent swap is caught
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            if {code[i], code[i + 1]} != {"0", "Z"}:  # Luhn mod N's one blind pair
                assert swapped == code or not codes.is_valid(swapped)
    assert codes.normalize("") is None and codes.normalize("x" * 100) is None


def test_click_redirect_is_rate_limited(app, client, referrer):
    """The public redirect answers 429 past the per-address limit."""
    _, code = referrer
    statuses = [client.get(f"/r/{code}").status_code for _ in range(32)]
    assert statuses[:30] == [302] * 30 and statuses[-1] == 429
