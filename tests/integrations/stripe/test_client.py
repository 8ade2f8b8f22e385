"""The Stripe client: negative balance credits with idempotency keys, coupon/promotion-code
reuse, classified errors, and the integration spec's connection check."""

from __future__ import annotations

import pytest
import responses

from integrations.errors import FatalError, RetriableError
from integrations.stripe import StripeGateway
from tests.fakes.stripe_api import BASE, FakeStripe

KEY = "sk_test_client_0123456789"


@pytest.fixture
def fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeStripe(mock)


@pytest.fixture
def gateway():
    return StripeGateway(KEY, BASE, max_network_retries=0)


def test_credit_is_a_negative_balance_transaction_once_per_key(fake, gateway):
    """A credit posts a negative amount; the same key again returns the same transaction."""
    fake.add_customer("cus_1", "a@a.io")
    first = gateway.credit_balance(
        "cus_1",
        2500,
        "USD",
        idempotency_key="k1",
        description="reward",
        metadata={"cshub_ledger_key": "x"},
    )
    again = gateway.credit_balance(
        "cus_1",
        2500,
        "USD",
        idempotency_key="k1",
        description="reward",
        metadata={"cshub_ledger_key": "x"},
    )
    assert first["amount"] == -2500 and first["currency"] == "usd"
    assert again["id"] == first["id"] and fake.customers["cus_1"]["balance"] == -2500
    assert gateway.find_balance_transaction("cus_1", "x")["id"] == first["id"]
    assert gateway.find_balance_transaction("cus_1", "other") is None
    with pytest.raises(FatalError) as err:  # same key, other parameters
        gateway.credit_balance(
            "cus_1",
            9900,
            "USD",
            idempotency_key="k1",
            description="reward",
            metadata={"cshub_ledger_key": "x"},
        )
    assert err.value.code == "idempotency_error"
    with pytest.raises(FatalError):
        gateway.credit_balance(
            "cus_1", 0, "USD", idempotency_key="k2", description="x", metadata={}
        )


def test_coupon_and_promotion_code_are_reused_not_duplicated(fake, gateway):
    """A coupon with a fixed id and a fixed promotion code are created once and then found."""
    params = {"percent_off": 20, "duration": "repeating", "duration_in_months": 12}
    assert gateway.ensure_coupon("cshub-x", params)["id"] == "cshub-x"
    assert gateway.ensure_coupon("cshub-x", params)["id"] == "cshub-x"
    one = gateway.ensure_promotion_code(
        "REF-1", "cshub-x", customer_id="cus_9", idempotency_key="p1", metadata={}
    )
    two = gateway.ensure_promotion_code(
        "REF-1", "cshub-x", customer_id="cus_9", idempotency_key="p2", metadata={}
    )
    assert one["id"] == two["id"] and len(fake.promotion_codes) == 1
    assert fake.posts("/v1/promotion_codes")[0][1]["promotion"] == {
        "type": "coupon",
        "coupon": "cshub-x",
    }


def test_errors_are_classified(fake):
    """Bad key and missing objects are fatal; 5xx and lost connections are retriable."""
    fake.add_customer("cus_1", "a@a.io")
    with pytest.raises(FatalError) as err:
        StripeGateway("sk_test_x", BASE, max_network_retries=0).customer("cus_404")
    assert err.value.status == 404 and err.value.code == "resource_missing"
    bad_key = StripeGateway("rk_test_nope", BASE, max_network_retries=0)
    with pytest.raises(FatalError) as err:
        bad_key.customer("cus_1")
    assert err.value.status == 401
    gateway = StripeGateway(KEY, BASE, max_network_retries=0)
    fake.fail_next("/v1/customers/cus_1$", mode="500")
    with pytest.raises(RetriableError):
        gateway.customer("cus_1")
    fake.fail_next("/balance_transactions$", mode="drop")
    with pytest.raises(RetriableError):
        gateway.credit_balance(
            "cus_1", 100, "usd", idempotency_key="d1", description="x", metadata={}
        )
    with pytest.raises(FatalError) as err:
        StripeGateway("", BASE)
    assert err.value.code == "not_configured"


def test_client_retry_replays_with_the_same_key(fake):
    """The library's own retry after a dropped answer reuses the key: one transaction."""
    fake.add_customer("cus_1", "a@a.io")
    gateway = StripeGateway(KEY, BASE, max_network_retries=2)
    fake.fail_next("/balance_transactions$", mode="drop", times=1)
    txn = gateway.credit_balance(
        "cus_1", 100, "usd", idempotency_key="r1", description="x", metadata={}
    )
    assert len(fake.balance_transactions["cus_1"]) == 1
    keys = {k for _, _, k in fake.posts("/balance_transactions$")}
    assert keys == {"r1"} and txn["amount"] == -100


def test_integration_spec_check_and_secret_masking(client, admin_headers, fake):
    """/api/integrations/stripe stores the key write-only; check calls the balance endpoint."""
    put = client.put(
        "/api/integrations/stripe", json={"api_key": KEY, "api_base": BASE}, headers=admin_headers
    )
    assert put.status_code == 200, put.json
    got = client.get("/api/integrations/stripe", headers=admin_headers).json
    assert KEY not in str(got)
    check = client.post("/api/integrations/stripe/check", headers=admin_headers)
    assert check.status_code == 200, check.json
    bad = client.put(
        "/api/integrations/stripe", json={"api_key": "pk_live_public"}, headers=admin_headers
    )
    assert bad.status_code == 422
