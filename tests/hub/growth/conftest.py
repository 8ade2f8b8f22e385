"""Growth tests: webhook secrets and Stripe configured; Stripe itself is a ``responses`` fake."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import responses

from tests.fakes.stripe_api import BASE, FakeStripe
from tests.playbooks.conftest import smtp  # noqa: F401  (a real SMTP server fixture)
from tests.webhooks.helpers import SECRETS

BASE_URL = "https://hub.test"


@pytest.fixture
def config(config):
    return config.with_overrides(
        {
            **SECRETS,
            "stripe_api_key": "sk_test_growth_0123456789",
            "stripe_api_base": BASE,
            "base_url": BASE_URL,
        }
    )


@pytest.fixture
def stripe_fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeStripe(mock)


@pytest.fixture
def make_account(session):
    """Create an account (and a contact) in the database."""
    from hub.models import Account, Contact

    def make(name="Acme", segment="individual_miner", plan="starter", email=None, **kw):
        tenure = kw.pop("tenure_days", 400)
        account = Account(
            name=name,
            segment=segment,
            plan=plan,
            mrr=kw.pop("mrr", 149.0),
            status=kw.pop("status", "active"),
            signup_date=kw.pop("signup_date", date.today() - timedelta(days=tenure)),
            attributes=kw.pop("attributes", {}),
            **kw,
        )
        session.add(account)
        session.flush()
        if email:
            session.add(
                Contact(account_id=account.id, email=email, name=f"{name} owner", role="owner")
            )
        session.commit()
        return account

    return make
