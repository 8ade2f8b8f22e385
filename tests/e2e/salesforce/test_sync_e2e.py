"""Salesforce both ways against the HTTPS fake: pull, push, faults, limits, jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from hub.db import db
from hub.models import (
    Account,
    ChurnPrediction,
    Contact,
    Event,
    HealthScore,
    IntegrationSetting,
    PushLedger,
    SalesforceRecord,
)
from hub.queue import queues
from integrations.errors import FatalError
from integrations.salesforce.client import ApiLimitPaused
from integrations.salesforce.metadata import setup
from integrations.salesforce.pull import pull
from integrations.salesforce.push import push
from integrations.salesforce.runner import open_client

pytestmark = pytest.mark.e2e


def run(app, work):
    with app.app_context(), open_client(db.begin, app.config["CSHUB"]) as client:
        return work(client), client


def do_pull(app, **kwargs):
    return run(app, lambda c: pull(c, db.begin, c.settings, **kwargs))


def do_push(app):
    return run(app, lambda c: push(c, db.begin, c.settings))


def score_all(app, score=70.0, at=None):
    at = at or datetime.now(UTC)
    with app.app_context():
        for account_id in db.session.scalars(select(Account.id)):
            db.session.add(
                HealthScore(
                    account_id=account_id,
                    score=score,
                    tier="healthy" if score >= 70 else "at_risk",
                    drivers={"down": ["fewer logins"]},
                    trend_7d=1.0,
                    computed_at=at,
                )
            )
            db.session.add(
                ChurnPrediction(
                    account_id=account_id,
                    probability=0.2,
                    segment="low",
                    model_version="v1",
                    reasons=["quiet month"],
                    predicted_at=at,
                )
            )
        db.session.commit()


def test_pull_all_streams_then_incrementally(app, fake, configure):
    """A backfill reads every stream; the next run reads only changes, deletions included."""
    configure()
    a1, a2, a3 = fake.seed_accounts(3)
    fake.set_fields("Account", a2, Segment__c="Institution", MRR__c=9000)
    fake.insert("Contact", {"AccountId": a1, "LastName": "Nakamoto", "Email": "SN@Acme.io"})
    fake.insert("Contact", {"LastName": "Nobody"})  # a private contact: no account
    fake.insert(
        "Opportunity",
        {
            "AccountId": a1,
            "Name": "Renewal",
            "Type": "Renewal",
            "StageName": "Negotiation",
            "CloseDate": "2099-01-15",
            "Amount": 12000,
        },
    )
    fake.insert(
        "Opportunity",
        {
            "AccountId": a1,
            "Name": "More rigs",
            "Type": "Expansion",
            "StageName": "Closed Won",
            "CloseDate": datetime.now(UTC).date().isoformat(),
            "Amount": 3000,
        },
    )
    case = fake.insert("Case", {"AccountId": a3, "Subject": "Rig offline", "Priority": "High"})
    report, _ = do_pull(app)
    streams = report["streams"]
    assert [streams[s]["records"] for s in ("Account", "Contact", "Opportunity", "Case")] == [
        3,
        2,
        2,
        1,
    ]
    assert report["api_calls"] == 5 == fake.calls  # describe + one page per stream
    with app.app_context():
        accounts = {a.salesforce_id: a for a in db.session.scalars(select(Account))}
        assert accounts[a2].segment == "institution" and accounts[a2].mrr == 9000
        assert accounts[a1].renewal_date.isoformat() == "2099-01-15"
        opp = accounts[a1].attributes["salesforce"]["opportunities"]
        assert opp["open_renewals"] == 1 and opp["won_expansion_amount_365d"] == 3000
        assert accounts[a3].attributes["salesforce"]["cases"]["open_high_priority"] == 1
        contact = db.session.scalar(select(Contact))
        assert contact.email == "sn@acme.io" and contact.account_id == accounts[a1].id
        event = db.session.scalar(select(Event).where(Event.source == "salesforce"))
        assert event.name == "support_ticket_created" and event.account_id == accounts[a3].id

    fake.reset_counters()
    fake.set_fields("Account", a1, Name="Acme Renamed")
    fake.delete("Account", a3)
    fake.delete("Case", case)
    report, _ = do_pull(app)
    queried = [path for method, path in fake.org.requests if "query" in path]
    assert len(queried) == 4 and fake.calls == 4  # the describe is cached
    with app.app_context():
        accounts = {a.salesforce_id: a for a in db.session.scalars(select(Account))}
        assert accounts[a1].name == "Acme Renamed"
        assert accounts[a3].deleted_at is not None
        assert db.session.scalar(select(Event).where(Event.source == "salesforce")) is None
        mirror = db.session.scalar(
            select(SalesforceRecord).where(SalesforceRecord.sobject == "Case")
        )
        assert mirror.deleted_at is not None
    assert report["streams"]["Account"]["accounts_deleted"] == 1


def test_paging_and_an_expired_session_mid_run(app, fake, configure):
    """4,500 accounts come in pages of 2,000; a session expiring mid-run re-logs in once."""
    configure(page_size=2000)
    fake.seed_accounts(4500)
    fake.org.expire_after_calls = 2  # describe, page 1: then every token dies
    report, client = do_pull(app, sobjects=("Account",))
    assert (
        report["streams"]["Account"] | {"records": 4500, "pages": 3} == report["streams"]["Account"]
    )
    assert client.stats.reauths == 1 and fake.org.auth_requests == 2
    with app.app_context():
        assert db.session.query(Account).count() == 4500


def test_push_writes_changed_scores_only(app, fake, configure):
    """Setup creates the fields; a push writes them; unchanged reruns cost zero calls."""
    configure()
    ids = fake.seed_accounts(250)
    run(app, setup)
    do_pull(app, sobjects=("Account",))
    score_all(app, 72.0)
    fake.reset_counters()
    report, _ = do_push(app)
    assert report["method"] == "collections" and report["accepted"] == 250
    assert fake.calls == 2 and fake.org.calls_by_kind == {"collections": 2}
    record = fake.get("Account", ids[0])
    assert record["Health_Score__c"] == 72.0 and record["Health_Tier__c"] == "healthy"
    assert record["Churn_Risk__c"] == 20.0 and record["Health_Trend__c"] == "stable"

    fake.reset_counters()
    report, _ = do_push(app)
    assert report["api_calls"] == 0 and fake.calls == 0 and fake.org.auth_requests == 0

    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.salesforce_id == ids[7]))
        db.session.add(
            HealthScore(
                account_id=account.id,
                score=41.0,
                tier="critical",
                trend_7d=-29.0,
                computed_at=datetime.now(UTC) + timedelta(minutes=1),
            )
        )
        db.session.commit()
    report, _ = do_push(app)
    assert report["changed_accounts"] == 1 and fake.calls == 1
    record = fake.get("Account", ids[7])
    assert (record["Health_Score__c"], record["Health_Trend__c"]) == (41.0, "declining")


def test_bulk_job_for_many_changes(app, fake, configure):
    """Above the threshold one Bulk API 2.0 job carries every change."""
    configure(bulk_threshold=100, bulk_rows_per_s=100_000)
    ids = fake.seed_accounts(300)
    run(app, setup)
    do_pull(app, sobjects=("Account",))
    score_all(app, 55.0)
    fake.reset_counters()
    report, _ = do_push(app)
    assert report["method"] == "bulk" and report["accepted"] == 300
    (job,) = fake.org.jobs.values()
    assert job.state == "JobComplete" and job.processed == 300
    assert fake.calls <= 8 and set(fake.org.calls_by_kind) == {"bulk"}
    assert fake.get("Account", ids[-1])["Health_Tier__c"] == "at_risk"


def test_503s_and_a_locked_row_are_survived(app, fake, configure):
    """Two 503s and one UNABLE_TO_LOCK_ROW are retried; every row lands."""
    configure()
    ids = fake.seed_accounts(20)
    run(app, setup)
    do_pull(app, sobjects=("Account",))
    score_all(app)
    fake.fail_next(2, status=503, path_contains="/composite/sobjects")
    fake.lock_rows([ids[3]], times=1)
    report, client = do_push(app)
    assert report["accepted"] == 20 and report["rejected"] == 0
    assert report["record_retries"] == 1 and client.stats.retries >= 3
    assert fake.get("Account", ids[3])["Health_Score__c"] == 70.0


def test_a_row_locked_for_long_is_recorded_and_sent_next_run(app, fake, configure):
    """A row still locked after its retries is kept with UNABLE_TO_LOCK_ROW for next time."""
    configure(record_retries=1)
    ids = fake.seed_accounts(5)
    run(app, setup)
    do_pull(app, sobjects=("Account",))
    score_all(app)
    fake.lock_rows([ids[1]], times=10)
    report, _ = do_push(app)
    assert report["errors"] == {"UNABLE_TO_LOCK_ROW": 1} and report["accepted"] == 4
    with app.app_context():
        errors = db.session.scalars(
            select(PushLedger.last_error).where(PushLedger.last_error.is_not(None))
        ).all()
    assert errors and all(e.startswith("UNABLE_TO_LOCK_ROW") for e in errors)
    fake.org.locked.clear()
    fake.reset_counters()
    report, _ = do_push(app)
    assert report["changed_accounts"] == 1 and report["accepted"] == 1 and fake.calls == 1


def test_reserve_pauses_the_run_and_the_job_reschedules(app, fake, configure):
    """Near the daily limit the run stops, the pause is kept, and the job is rescheduled."""
    from jobs import sync

    configure(reserve_share=0.1, limit_pause_s=900)
    fake.seed_accounts(450)
    run(app, setup)
    do_pull(app, sobjects=("Account",))
    score_all(app)
    fake.set_usage(89_999, 100_000)  # one call left before the reserve
    fake.reset_counters()
    with pytest.raises(ApiLimitPaused):
        do_push(app)
    assert fake.calls == 1  # the first call showed the usage; no second one went out
    with pytest.raises(ApiLimitPaused):  # a new run honours the stored pause: no call
        do_push(app)
    assert fake.calls == 1
    with app.app_context():
        result = sync.salesforce_push()
        row = db.session.scalar(select(IntegrationSetting))
        assert row.status == "paused"
        scheduled = ScheduledJobRegistry(queue=queues["default"]).get_job_ids()
    assert result["paused"] is True and 60 <= result["retry_after"] <= 900
    assert "salesforce-push-resume" in scheduled


def test_request_limit_exceeded_pauses(app, fake, configure):
    """An exhausted allowance (403 REQUEST_LIMIT_EXCEEDED, usage at the total) pauses the run
    after one refused call, without hammering the API."""
    configure(limit_retries=3)
    fake.set_usage(100_000, 100_000)
    with pytest.raises(ApiLimitPaused) as caught:
        do_pull(app, sobjects=("Account",))
    assert caught.value.retry_after and len(fake.org.requests) == 1
    assert fake.org.api_used == 100_000  # refused calls are not counted
    with app.app_context():
        assert db.session.scalar(select(IntegrationSetting.status)) == "paused"


def test_jwt_bearer_flow(app, fake, client, admin_headers, tmp_path):
    """The JWT bearer flow signs with the private key file and reaches the API."""
    resp = client.put(
        "/api/integrations/salesforce", headers=admin_headers, json=fake.jwt_settings(tmp_path)
    )
    assert resp.status_code == 200, resp.json
    fake.seed_accounts(2)
    report, _ = do_pull(app, sobjects=("Account",))
    assert report["streams"]["Account"]["records"] == 2
    check = client.post("/api/integrations/salesforce/check", headers=admin_headers)
    assert check.status_code == 200, check.json
    assert check.json["org_id"] == fake.org.org_id and check.json["auth_flow"] == "jwt_bearer"
    assert check.json["daily_api_requests"]["max"] == 100_000


def test_untrusted_certificate_is_refused(app, fake, configure, config):
    """Without the fake's CA in the bundle, TLS verification fails: nothing is sent."""
    from dataclasses import replace

    configure()
    app.config["CSHUB"] = replace(config, requests_ca_bundle="")
    with pytest.raises(FatalError, match=r"TLS|SSL|certificate"):
        do_pull(app, sobjects=("Account",))
    assert fake.org.auth_requests == 0


def test_outbound_message_pulls_the_named_records(app, fake, configure):
    """salesforce_pull_records fetches the named records now (15-character ids too)."""
    from jobs import sync

    configure()
    (account_id,) = fake.seed_accounts(1)
    with app.app_context():
        result = sync.salesforce_pull_records("Account", [account_id[:15]])
        account = db.session.scalar(select(Account))
    assert result["records"] == 1 and account.salesforce_id == account_id
    assert fake.calls == 2  # describe, one query by Id
