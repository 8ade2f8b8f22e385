"""Webhook secrets: configured through the admin API, encrypted, rotated with a grace period."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hub.models import InboxEvent
from tests.webhooks.helpers import (
    EVENTS_SECRET,
    STRIPE_SECRET,
    post_events,
    post_mixpanel,
    post_stripe,
)
from tests.webhooks.payloads import cohort_message, stripe_event
from webhooks import secrets as secret_cache

NEW_STRIPE = "whsec_rotated_stripe_secret_2"
NEW_EVENTS = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="


def _event(n: int) -> dict:
    return stripe_event(f"evt_rot{n}", "customer.subscription.trial_will_end", {"id": "x"})


def _put(client, admin_headers, **values):
    response = client.put("/api/integrations/webhooks", headers=admin_headers, json=values)
    assert response.status_code == 200, response.json
    return response.json


def test_read_masks_every_secret_including_the_rotated_ones(client, admin_headers, session):
    _put(
        client, admin_headers, stripe_webhook_secret=NEW_STRIPE, salesforce_org_id="00D5e000000ABCD"
    )
    got = client.get("/api/integrations/webhooks", headers=admin_headers).json["settings"]
    assert got["stripe_webhook_secret"] == "********"
    assert got["previous"] == "********"  # the environment's secret, now in grace
    assert got["mixpanel_webhook_password"] == "********"
    assert got["salesforce_org_id"] == "00D5e000000ABCD"
    raw = session.execute(text("SELECT secrets FROM integration_settings")).scalar()
    assert NEW_STRIPE not in raw and STRIPE_SECRET not in raw


def test_rotated_secret_stays_valid_for_the_grace_period(client, admin_headers, session):
    """After a change both the new and the replaced secret verify, until the grace ends."""
    _put(client, admin_headers, stripe_webhook_secret=NEW_STRIPE)
    assert post_stripe(client, _event(1), secret=NEW_STRIPE).status_code == 200
    assert post_stripe(client, _event(2), secret=STRIPE_SECRET).status_code == 200
    assert post_stripe(client, _event(3), secret="whsec_never_configured").status_code == 401
    assert session.query(InboxEvent).count() == 2


@pytest.fixture
def no_grace_config(config):
    return config.with_overrides({"secret_grace_s": 0})


@pytest.fixture
def no_grace_app(no_grace_config):
    from hub import create_app
    from hub.db import Base, db

    app = create_app(no_grace_config)
    yield app
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    db.engine.dispose()


def test_replaced_secret_is_refused_once_the_grace_is_over(no_grace_app, admin_headers):
    """With no grace, a saved secret wins over the environment's at once."""
    client = no_grace_app.test_client()
    _put(client, admin_headers, stripe_webhook_secret=NEW_STRIPE, events_webhook_secret=NEW_EVENTS)
    assert post_stripe(client, _event(1), secret=STRIPE_SECRET).status_code == 401
    assert post_stripe(client, _event(2), secret=NEW_STRIPE).status_code == 200
    doc = {"type": "product.event", "data": {"name": "x"}}
    assert post_events(client, doc, "msg_r1", secret=EVENTS_SECRET).status_code == 401
    assert post_events(client, doc, "msg_r2", secret=NEW_EVENTS).status_code == 200


def test_mixpanel_credentials_rotate_as_a_pair(client, admin_headers):
    _put(client, admin_headers, mixpanel_webhook_user="mp2", mixpanel_webhook_password="pw2")
    message = cohort_message("add_members", [])
    assert post_mixpanel(client, message, user="mp2", password="pw2").status_code == 200
    old = cohort_message("add_members", [], session_id="other")
    assert post_mixpanel(client, old).status_code == 200  # the old pair, in grace
    mixed = cohort_message("add_members", [], session_id="third")
    assert post_mixpanel(client, mixed, user="mp2", password="s3cret-pass").status_code == 401


def test_placeholder_keeps_the_secret_and_starts_no_rotation(client, admin_headers, session):
    _put(client, admin_headers, stripe_webhook_secret=NEW_STRIPE)
    _put(client, admin_headers, stripe_webhook_secret="********")
    from hub.models import IntegrationSetting

    row = session.query(IntegrationSetting).filter_by(name="webhooks").one()
    assert row.secrets["stripe_webhook_secret"] == NEW_STRIPE
    previous = [(p["key"], p["value"]) for p in row.secrets["previous"]]
    assert previous == [("stripe_webhook_secret", STRIPE_SECRET)]


@pytest.mark.parametrize(
    "values",
    [
        {"stripe_webhook_secret": "sk_live_wrong_kind"},
        {"events_webhook_secret": "whsec_%%%"},
        {"salesforce_org_id": "001000000000001"},
        {"previous": []},
    ],
)
def test_invalid_settings_are_422(client, admin_headers, values):
    response = client.put("/api/integrations/webhooks", headers=admin_headers, json=values)
    assert response.status_code == 422


def test_check_reports_which_receivers_can_verify(client, admin_headers):
    response = client.post("/api/integrations/webhooks/check", headers=admin_headers)
    assert response.status_code == 200
    assert {k: response.json[k] for k in ("stripe", "events", "mixpanel", "salesforce")} == {
        "stripe": True,
        "events": True,
        "mixpanel": True,
        "salesforce": True,
    }


def test_secrets_are_loaded_once_per_ttl_not_per_request(client, monkeypatch):
    """The request path does not read and decrypt settings on every delivery."""
    calls = []
    real = secret_cache.load
    monkeypatch.setattr(secret_cache, "load", lambda app: calls.append(1) or real(app))
    for n in range(20):
        assert post_stripe(client, _event(n)).status_code == 200
    assert len(calls) == 1
