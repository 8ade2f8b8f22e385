"""The push watermark: only accounts that may have changed are compared, none are missed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from hub.db import db
from hub.models import Account, HealthScore
from integrations.salesforce.push import push
from tests.integrations.salesforce import sfdocs
from tests.integrations.salesforce.test_push import COLLECTIONS, seed, sf_id

HOUR = timedelta(hours=1)
PLAN = [{"hub": "plan", "salesforce": "Plan__c", "direction": "push"}]


def answer_all(request):
    records = json.loads(request.body)["records"]
    return 200, {}, json.dumps([sfdocs.save_ok(r["id"]) for r in records])


def seed_old(session, count: int) -> list[Account]:
    """Accounts last edited three hours ago (older than any push here)."""
    accounts = seed(session, count)
    session.execute(update(Account).values(updated_at=datetime.now(UTC) - 3 * HOUR))
    session.commit()
    return accounts


def run(make_client, at: datetime, **overrides):
    client = make_client(**overrides)
    return push(client, db.begin, client.settings, now=at)


def test_after_a_full_push_only_new_scores_are_compared(session, sf_http, make_client):
    """A rerun compares no account; a new (even backdated) score row brings its account in."""
    accounts = seed_old(session, 30)
    sf_http.add_callback("PATCH", COLLECTIONS, callback=answer_all)
    now = datetime.now(UTC)
    first = run(make_client, now)
    assert first["compared"] == "first push" and first["accepted"] == 30
    quiet = run(make_client, now + HOUR)
    assert quiet["compared"] == "0 changed since the last push" and quiet["api_calls"] == 0
    session.add(
        HealthScore(
            account_id=accounts[4].id,
            score=12.0,
            tier="critical",
            computed_at=datetime(2020, 1, 1, tzinfo=UTC),  # backdated: its id is newer still
        )
    )
    session.commit()
    report = run(make_client, now + 2 * HOUR)
    assert report["compared"] == "1 changed since the last push"
    assert report["changed_accounts"] == 0  # a backdated row is not the latest score


def test_refused_rows_and_edited_accounts_are_compared_again(session, sf_http, make_client):
    """A refused write and an account edited since the last push are both looked at."""
    accounts = seed_old(session, 3)
    sf_http.patch(
        COLLECTIONS,
        json=[
            sfdocs.save_ok(sf_id(0)),
            sfdocs.save_error("UNABLE_TO_LOCK_ROW", "locked"),
            sfdocs.save_ok(sf_id(2)),
        ],
    )
    now = datetime.now(UTC)
    run(make_client, now, record_retries=0)
    accounts[2].name = "Renamed"  # updated_at moves to now
    session.commit()
    sf_http.replace("PATCH", COLLECTIONS, json=[sfdocs.save_ok(sf_id(1))])
    report = run(make_client, now + HOUR)
    assert report["compared"] == "2 changed since the last push"
    assert report["changed_accounts"] == 1 and report["accepted"] == 1


def test_changed_field_set_or_a_day_forces_a_full_comparison(session, sf_http, make_client):
    """A new pushed field (or 24 hours) compares every account again."""
    seed_old(session, 2)
    sf_http.add_callback("PATCH", COLLECTIONS, callback=answer_all)
    now = datetime.now(UTC)
    run(make_client, now)
    mapped = run(make_client, now + HOUR, field_map=PLAN)
    assert mapped["compared"] == "the pushed fields changed" and mapped["changed_accounts"] == 2
    daily = run(make_client, now + 26 * HOUR, field_map=PLAN)
    assert daily["compared"] == "daily full comparison" and daily["changed_accounts"] == 0
