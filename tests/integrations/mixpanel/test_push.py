"""Push: score properties in batches only when changed; hub actions with stable $insert_id."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import func, select

from hub.models import (
    Account,
    ChurnPrediction,
    Contact,
    HealthScore,
    Offer,
    OutboxMessage,
    PushLedger,
    SurveyResponse,
)
from integrations.errors import FatalError
from integrations.mixpanel.client import Backoff, IngestClient
from integrations.mixpanel.consumer import BatchConsumer
from integrations.mixpanel.push import ProfilePusher, insert_id, push_actions
from tests.integrations.mixpanel.conftest import API

OK = {"status": 1, "error": None}


def seed(session, accounts: int, contacts_each: int) -> list[Account]:
    rows = [Account(name=f"A{i}", mixpanel_group_key=f"g-{i}") for i in range(accounts)]
    session.add_all(rows)
    session.flush()
    for n, account in enumerate(rows):
        for c in range(contacts_each):
            session.add(Contact(account_id=account.id, mixpanel_distinct_id=f"u-{n}-{c}"))
        session.add(HealthScore(account_id=account.id, score=70.0 + n % 10, tier="healthy"))
        session.add(
            ChurnPrediction(
                account_id=account.id, probability=0.12, segment="minimal", model_version="v1"
            )
        )
    session.commit()
    return rows


def bodies(rsps, path: str) -> list[list[dict]]:
    return [json.loads(c.request.body) for c in rsps.calls if urlsplit(c.request.url).path == path]


def pusher(session, settings, no_sleep):
    consumer = BatchConsumer(IngestClient(settings, backoff=Backoff(sleep=no_sleep)))
    return ProfilePusher(session, settings, consumer)


def test_profiles_go_in_batches_of_2000(app, session, mp_settings, no_sleep):
    """4100 user profiles: three engage requests (2000, 2000, 100); groups in one request."""
    seed(session, accounts=41, contacts_each=100)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{API}/engage", json=OK)
        rsps.add(responses.POST, f"{API}/groups", json=OK)
        result = pusher(session, mp_settings, no_sleep).run()
        engage = bodies(rsps, "/engage")
        groups = bodies(rsps, "/groups")
    assert [len(b) for b in engage] == [2000, 2000, 100]
    assert [len(b) for b in groups] == [41]
    first = engage[0][0]
    assert first["$token"] == "tok_abc" and first["$ignore_time"] is True
    assert set(first["$set"]) == {
        "cshub_health_score",
        "cshub_health_tier",
        "cshub_churn_risk",
        "cshub_churn_segment",
    }
    assert groups[0][0]["$group_key"] == "company_id" and groups[0][0]["$group_id"] == "g-0"
    assert result.accounts_changed == 41 and result.profile_updates == 4100
    assert session.scalar(select(func.count(PushLedger.id))) == 41 * 4


def test_unchanged_values_are_not_sent_again(app, session, mp_settings, no_sleep):
    """A second push sends nothing; a changed score sends only that account's changed fields."""
    accounts = seed(session, accounts=3, contacts_each=2)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{API}/engage", json=OK)
        rsps.add(responses.POST, f"{API}/groups", json=OK)
        pusher(session, mp_settings, no_sleep).run()
        assert len(rsps.calls) == 2
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, f"{API}/engage", json=OK)
        rsps.add(responses.POST, f"{API}/groups", json=OK)
        again = pusher(session, mp_settings, no_sleep).run()
        assert len(rsps.calls) == 0 and again.accounts_unchanged == 3
    session.add(HealthScore(account_id=accounts[1].id, score=41.0, tier="critical"))
    session.commit()
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{API}/engage", json=OK)
        rsps.add(responses.POST, f"{API}/groups", json=OK)
        pusher(session, mp_settings, no_sleep).run()
        engage = bodies(rsps, "/engage")
    assert [m["$distinct_id"] for m in engage[0]] == ["u-1-0", "u-1-1"]
    assert engage[0][0]["$set"] == {"cshub_health_score": 41.0, "cshub_health_tier": "critical"}


def test_ledger_moves_only_for_confirmed_batches(app, session, mp_settings, no_sleep):
    """When the second batch is refused, only accounts in the first batch are recorded."""
    settings = mp_settings.__class__(**{**mp_settings.__dict__, "group_key": None})
    seed(session, accounts=30, contacts_each=100)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{API}/engage", json=OK)
        rsps.add(
            responses.POST,
            f"{API}/engage",
            json={"error": "Invalid token", "status": 0},
            status=401,
        )
        with pytest.raises(FatalError, match="401"):
            pusher(session, settings, no_sleep).run()
    recorded = session.scalar(select(func.count(func.distinct(PushLedger.account_id))))
    assert recorded == 20  # 2000 confirmed profiles = the first 20 accounts


def test_engage_500_is_retried_with_the_same_batch(app, session, mp_settings, no_sleep):
    """A 5xx is retried after back-off; $set is idempotent, so resending is safe."""
    settings = mp_settings.__class__(**{**mp_settings.__dict__, "group_key": None})
    seed(session, accounts=2, contacts_each=1)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{API}/engage", json={"error": "busy"}, status=503)
        rsps.add(responses.POST, f"{API}/engage", json=OK)
        pusher(session, settings, no_sleep).run()
        engage = bodies(rsps, "/engage")
    assert len(engage) == 2 and engage[0] == engage[1] and len(no_sleep.delays) == 1


def _actions_fixture(session):
    account = Account(name="Acme", mixpanel_group_key="acme")
    session.add(account)
    session.flush()
    contact = Contact(account_id=account.id, mixpanel_distinct_id="u-acme", email="a@acme.io")
    session.add(contact)
    session.flush()
    at = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    session.add_all(
        [
            OutboxMessage(
                idempotency_key="k1",
                channel="email",
                account_id=account.id,
                contact_id=contact.id,
                template="welcome",
                status="sent",
                sent_at=at,
            ),
            OutboxMessage(
                idempotency_key="k2", channel="sms", account_id=account.id, status="pending"
            ),
            Offer(
                account_id=account.id,
                rule_key="upsell-pro",
                kind="upsell",
                window_key="2025-Q2",
                status="accepted",
                target_plan="pro",
                resolved_at=at + timedelta(hours=1),
            ),
            SurveyResponse(
                account_id=account.id,
                contact_id=contact.id,
                kind="nps",
                score=9,
                answered_at=at + timedelta(hours=2),
            ),
        ]
    )
    session.commit()
    return account, contact


def _import_callback(seen):
    def callback(request):
        seen.append(request)
        batch = json.loads(request.body)
        return (
            200,
            {},
            json.dumps({"code": 200, "num_records_imported": len(batch), "status": "OK"}),
        )

    return callback


def test_actions_are_imported_with_stable_insert_ids(app, session, mp_settings, no_sleep):
    """Hub actions become events whose $insert_id is the same on every push."""
    _actions_fixture(session)
    seen: list = []
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, f"{API}/import", callback=_import_callback(seen))
        consumer = BatchConsumer(IngestClient(mp_settings, backoff=Backoff(sleep=no_sleep)))
        counts = push_actions(session, mp_settings, consumer)
        consumer2 = BatchConsumer(IngestClient(mp_settings, backoff=Backoff(sleep=no_sleep)))
        push_actions(session, mp_settings, consumer2)  # within the overlap: sent again
    assert counts["message_sent"] == 1 and counts["offer_accepted"] == 1
    assert counts["survey_answered"] == 1 and counts["failed"] == 0
    first, second = (json.loads(r.body) for r in seen)
    assert [e["properties"]["$insert_id"] for e in first] == [
        e["properties"]["$insert_id"] for e in second
    ]
    names = {e["event"]: e["properties"] for e in first}
    assert set(names) == {"cshub_message_sent", "cshub_offer_accepted", "cshub_survey_answered"}
    sent = names["cshub_message_sent"]
    assert sent["distinct_id"] == "u-acme" and sent["company_id"] == "acme"
    assert sent["time"] == int(datetime(2025, 5, 1, 10, 0, tzinfo=UTC).timestamp())
    assert names["cshub_offer_accepted"]["distinct_id"] == ""
    message_id = session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == "k1")
    )
    assert len(sent["$insert_id"]) <= 36
    assert sent["$insert_id"] == insert_id("message_sent", message_id)
    query = parse_qs(urlsplit(seen[0].url).query)
    assert query == {"strict": ["1"], "project_id": ["1234567"]}
    user, _, secret = base64.b64decode(seen[0].headers["Authorization"][6:]).decode().partition(":")
    assert (user, secret) == ("cshub.sa.1234", "sa-secret")


def test_import_retry_after_429_resends_identical_events(app, session, mp_settings, no_sleep):
    """A 429 on /import is retried with the very same batch, so Mixpanel dedupes any overlap."""
    _actions_fixture(session)
    seen: list = []
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{API}/import",
            status=429,
            json={
                "code": 429,
                "error": "Project exceeded rate limits.",
                "status": "Too Many Requests",
            },
        )
        rsps.add_callback(responses.POST, f"{API}/import", callback=_import_callback(seen))
        consumer = BatchConsumer(IngestClient(mp_settings, backoff=Backoff(sleep=no_sleep)))
        push_actions(session, mp_settings, consumer)
        bodies_sent = [c.request.body for c in rsps.calls]
    assert len(bodies_sent) == 2 and bodies_sent[0] == bodies_sent[1]
    assert len(no_sleep.delays) == 1


def test_import_partial_failure_is_counted(app, session, mp_settings, no_sleep):
    """A 400 with failed_records (a partial success) is counted, not retried forever."""
    _actions_fixture(session)
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{API}/import",
            status=400,
            json={
                "code": 400,
                "error": "some data points in the request failed validation",
                "num_records_imported": 2,
                "failed_records": [{"index": 0, "insert_id": "x", "field": "properties.time"}],
                "status": "Bad Request",
            },
        )
        consumer = BatchConsumer(IngestClient(mp_settings, backoff=Backoff(sleep=no_sleep)))
        counts = push_actions(session, mp_settings, consumer)
        assert len(rsps.calls) == 1
    assert counts["failed"] == 1
