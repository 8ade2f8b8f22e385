"""Score write-back: only changed values, Collections for few, Bulk 2.0 for many, failures kept."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import responses
from sqlalchemy import select

from hub.db import db
from hub.models import Account, ChurnPrediction, HealthScore, PushLedger
from integrations.salesforce.push import push, reasons_text, trend_word
from tests.integrations.salesforce import sfdocs

COLLECTIONS = f"{sfdocs.DATA}/composite/sobjects"
INGEST = f"{sfdocs.DATA}/jobs/ingest"
AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def sf_id(i: int) -> str:
    return f"001{i:012d}AAA"


def seed(session, count: int, score: float = 72.5) -> list[Account]:
    accounts = [Account(name=f"Acme {i}", salesforce_id=sf_id(i)) for i in range(count)]
    session.add_all(accounts)
    session.flush()
    for a in accounts:
        session.add(
            HealthScore(
                account_id=a.id,
                score=score,
                tier="healthy",
                drivers={"up": ["steady hashrate"], "down": ["fewer logins", "support tickets"]},
                trend_7d=-4.2,
                computed_at=AT,
            )
        )
        session.add(
            ChurnPrediction(
                account_id=a.id,
                probability=0.3512,
                segment="low",
                model_version="gb-1",
                reasons=["usage down 40% in 30 days"],
                predicted_at=AT,
            )
        )
    session.commit()
    return accounts


def rescore(session, account: Account, score: float, tier: str) -> None:
    session.add(
        HealthScore(
            account_id=account.id,
            score=score,
            tier=tier,
            drivers={"down": ["fewer logins", "support tickets"]},
            trend_7d=-4.2,
            computed_at=AT + timedelta(days=1),
        )
    )
    session.commit()


def sent_records(mock) -> list[dict]:
    return [
        r
        for c in mock.calls
        if c.request.url == COLLECTIONS
        for r in json.loads(c.request.body)["records"]
    ]


def test_values_written_and_nothing_changed_costs_nothing(session, sf_http, make_client):
    """A first push sends all seven fields; an unchanged rerun makes no request at all."""
    seed(session, 2)
    sf_http.patch(COLLECTIONS, json=[sfdocs.save_ok(sf_id(0)), sfdocs.save_ok(sf_id(1))])
    client = make_client()
    report = push(client, db.begin, client.settings)
    body = json.loads(sf_http.calls[-1].request.body)
    assert body["allOrNone"] is False
    assert body["records"][0] == {
        "attributes": {"type": "Account"},
        "id": sf_id(0),
        "Health_Score__c": 72.5,
        "Health_Tier__c": "healthy",
        "Health_Trend__c": "declining",
        "Churn_Risk__c": 35.1,
        "Churn_Risk_Segment__c": "low",
        "Health_Reasons__c": "fewer logins; support tickets; usage down 40% in 30 days",
        "Last_Scored__c": "2026-11-24T02:00:00.000Z",
    }
    assert report["method"] == "collections" and report["accepted"] == 2
    with responses.RequestsMock(assert_all_requests_are_fired=False) as silent:
        quiet = make_client()
        again = push(quiet, db.begin, quiet.settings)
        assert len(silent.calls) == 0
    assert (again["changed_accounts"], again["method"], again["api_calls"]) == (0, "none", 0)
    assert not quiet.connected  # did not even log in


def test_only_changed_fields_go_out(session, sf_http, make_client):
    """A rescore that moves the score and tier sends those two plus Last_Scored__c."""
    accounts = seed(session, 2)
    sf_http.patch(COLLECTIONS, json=[sfdocs.save_ok(sf_id(0)), sfdocs.save_ok(sf_id(1))])
    client = make_client()
    push(client, db.begin, client.settings)
    rescore(session, accounts[1], 48.0, "critical")
    sf_http.replace("PATCH", COLLECTIONS, json=[sfdocs.save_ok(sf_id(1))])
    report = push(client, db.begin, client.settings)
    assert sent_records(sf_http)[-1] == {
        "attributes": {"type": "Account"},
        "id": sf_id(1),
        "Health_Score__c": 48.0,
        "Health_Tier__c": "critical",
        "Last_Scored__c": "2026-11-25T02:00:00.000Z",
    }
    assert report["changed_accounts"] == 1 and report["api_calls"] == 1


def test_collections_are_chunked_by_200(session, sf_http, make_client):
    """450 changed accounts make three Collections calls: 200, 200 and 50 records."""
    seed(session, 450)

    def answer(request):
        records = json.loads(request.body)["records"]
        return 200, {}, json.dumps([sfdocs.save_ok(r["id"]) for r in records])

    sf_http.add_callback("PATCH", COLLECTIONS, callback=answer)
    client = make_client()
    report = push(client, db.begin, client.settings)
    sizes = [len(json.loads(c.request.body)["records"]) for c in sf_http.calls[1:]]
    assert sizes == [200, 200, 50] and report["api_calls"] == 3


def test_row_failure_is_recorded_and_retried_next_run(session, sf_http, make_client):
    """One refused row keeps Salesforce's code in the ledger; the others are settled."""
    seed(session, 3)
    sf_http.patch(
        COLLECTIONS,
        json=[
            sfdocs.save_ok(sf_id(0)),
            sfdocs.save_error("ENTITY_IS_DELETED", "entity is deleted", []),
            sfdocs.save_ok(sf_id(2)),
        ],
    )
    client = make_client()
    report = push(client, db.begin, client.settings)
    assert report["errors"] == {"ENTITY_IS_DELETED": 1}
    errors = session.scalars(
        select(PushLedger.last_error).where(PushLedger.last_error.is_not(None))
    ).all()
    assert errors and all(e.startswith("ENTITY_IS_DELETED") for e in errors)
    sf_http.replace("PATCH", COLLECTIONS, json=[sfdocs.save_ok(sf_id(1))])
    second = push(client, db.begin, client.settings)
    assert [r["id"] for r in sent_records(sf_http)[3:]] == [sf_id(1)]
    assert second["accepted"] == 1
    assert session.scalar(select(PushLedger).where(PushLedger.last_error.is_not(None))) is None


def test_locked_row_is_retried_with_backoff(session, sf_http, make_client, sleeps):
    """UNABLE_TO_LOCK_ROW is retried in the same run, alone, after a backoff."""
    seed(session, 2)
    sf_http.patch(
        COLLECTIONS,
        json=[
            sfdocs.save_ok(sf_id(0)),
            sfdocs.save_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access"),
        ],
    )
    sf_http.patch(COLLECTIONS, json=[sfdocs.save_ok(sf_id(1))])
    client = make_client(record_retries=2)
    report = push(client, db.begin, client.settings)
    assert [r["id"] for r in sent_records(sf_http)] == [sf_id(0), sf_id(1), sf_id(1)]
    assert report["accepted"] == 2 and report["record_retries"] == 1 and len(sleeps) == 1


def test_many_changes_go_through_one_bulk_job(session, sf_http, make_client):
    """Above the threshold: create, upload CSV, close, poll, then the failed rows."""
    seed(session, 3)
    job = "7505fEXAMPLE4C2AAM"
    sf_http.post(INGEST, json=sfdocs.job_info(job, "Open"))
    sf_http.put(f"{INGEST}/{job}/batches", status=201)
    sf_http.patch(f"{INGEST}/{job}", json=sfdocs.job_info(job, "UploadComplete"))
    sf_http.get(f"{INGEST}/{job}", json=sfdocs.job_info(job, "JobComplete", processed=3, failed=1))
    sf_http.get(
        f"{INGEST}/{job}/failedResults",
        body=f'"sf__Id","sf__Error",Id,Health_Score__c\n"{sf_id(2)}",'
        f'"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--",'
        f"{sf_id(2)},72.5\n",
        content_type="text/csv",
    )
    sf_http.patch(COLLECTIONS, json=[sfdocs.save_ok(sf_id(2))])
    client = make_client(bulk_threshold=2)
    report = push(client, db.begin, client.settings)
    created = json.loads(sf_http.calls[1].request.body)
    assert created == {
        "operation": "update",
        "columnDelimiter": "COMMA",
        "lineEnding": "LF",
        "object": "Account",
        "contentType": "CSV",
    }
    upload = sf_http.calls[2].request
    assert upload.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(upload.body.decode())))
    assert [r["Id"] for r in rows] == [sf_id(0), sf_id(1), sf_id(2)]
    assert rows[0]["Health_Score__c"] == "72.5" and rows[0]["Churn_Risk__c"] == "35.1"
    assert json.loads(sf_http.calls[3].request.body) == {"state": "UploadComplete"}
    assert report["method"] == "bulk" and report["accepted"] == 3  # the locked row retried
    assert [r["id"] for r in sent_records(sf_http)] == [sf_id(2)]


def test_bulk_clears_a_value_with_na(tmp_path):
    """In a Bulk CSV a null becomes #N/A (clears the field); an unchanged field stays blank."""
    from integrations.salesforce.push import Change, write_csv

    path = tmp_path / "x.csv"
    write_csv(
        [
            Change(1, sf_id(1), {"Health_Trend__c": None, "Health_Score__c": 5.0}, []),
            Change(2, sf_id(2), {"Health_Score__c": 6.0}, []),
        ],
        path,
    )
    assert path.read_text().splitlines() == [
        "Id,Health_Score__c,Health_Trend__c",
        f"{sf_id(1)},5.0,#N/A",
        f"{sf_id(2)},6.0,",
    ]


def test_words_for_reps():
    """Trend words and the reasons text are what a rep reads on the Account."""
    assert [trend_word(d, 3.0) for d in (5, 2.9, -3, None)] == [
        "improving",
        "stable",
        "declining",
        None,
    ]
    long = reasons_text({"down": ["x" * 200, "y" * 200]}, None)
    assert len(long) == 255 and long.endswith("…")
    assert reasons_text({"down": [{"text": "fewer logins"}]}, ["fewer logins", "late pay"]) == (
        "fewer logins; late pay"
    )
