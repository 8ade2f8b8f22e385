"""Incremental pull on SystemModstamp: backfill, cursor with overlap, dedupe, deletions, paging."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from hub.db import db
from hub.models import Account, SyncState
from integrations.errors import RetriableError
from integrations.salesforce.pull import pull, pull_records
from tests.integrations.salesforce import sfdocs

QUERY_ALL = f"{sfdocs.DATA}/queryAll/"
DESCRIBE = f"{sfdocs.DATA}/sobjects/Account/describe"
CUSTOM = ("Segment__c", "Plan__c", "MRR__c", "Renewal_Date__c")


def soql_of(call) -> str:
    return parse_qs(urlsplit(call.request.url).query)["q"][0]


def queries(mock) -> list[str]:
    return [
        soql_of(c) for c in mock.calls if "/queryAll/" in c.request.url and "q=" in c.request.url
    ]


def acme(record_id: str, stamp: str, **fields) -> dict:
    base = {
        "Name": f"Acme {record_id[-3:]}",
        "Website": "www.acme.io",
        "OwnerId": "0055e000001XyZ9AAK",
        "Owner": {"attributes": {"type": "User"}, "Email": "rep@acme.io"},
        "Segment__c": "Mining Farm",
        "Plan__c": "pro",
        "MRR__c": 1250.0,
        "Renewal_Date__c": "2027-03-01",
    }
    base.update(fields)
    return sfdocs.account(record_id, stamp, **base)


def test_first_run_backfills_and_stores_the_cursor(app, sf_http, make_client):
    """No cursor: every record, deleted ones included, ordered by SystemModstamp."""
    sf_http.get(DESCRIBE, json=sfdocs.describe(*CUSTOM))
    sf_http.get(
        QUERY_ALL,
        json=sfdocs.query_page(
            [
                acme("001000000000001AAA", "2026-11-01T10:00:00.000+0000"),
                acme("001000000000002AAA", "2026-11-02T10:00:00.000+0000"),
                acme("001000000000003AAA", "2026-11-03T10:00:00.000+0000", deleted=True),
            ]
        ),
    )
    client = make_client()
    with app.app_context():
        report = pull(client, db.begin, client.settings, sobjects=("Account",))
        accounts = db.session.scalars(select(Account).order_by(Account.salesforce_id)).all()
        cursor = db.session.scalar(
            select(SyncState.cursor).where(SyncState.stream == "salesforce:Account")
        )
    (soql,) = queries(sf_http)
    assert "WHERE" not in soql and soql.endswith("ORDER BY SystemModstamp ASC, Id ASC")
    assert "Owner.Email" in soql and "Segment__c" in soql and "IsDeleted" in soql
    assert [a.salesforce_id for a in accounts] == ["001000000000001AAA", "001000000000002AAA"]
    first = accounts[0]
    assert (first.segment, first.plan, first.mrr) == ("mining_farm", "pro", 1250.0)
    assert (first.domain, first.owner_email) == ("acme.io", "rep@acme.io")
    assert first.renewal_date.isoformat() == "2027-03-01"
    assert datetime.fromisoformat(cursor).isoformat() == "2026-11-03T10:00:00+00:00"
    assert report["streams"]["Account"]["backfill"] is True
    assert report["api_calls"] == 2  # describe + one page


def test_next_run_is_incremental_with_overlap_and_dedupe(app, sf_http, make_client):
    """Later runs ask for SystemModstamp >= cursor - overlap and skip what was applied."""
    sf_http.get(DESCRIBE, json=sfdocs.describe(*CUSTOM))
    sf_http.get(
        QUERY_ALL,
        json=sfdocs.query_page([acme("001000000000001AAA", "2026-11-01T10:00:00.000+0000")]),
    )
    client = make_client(overlap_s=600)
    with app.app_context():
        pull(client, db.begin, client.settings, sobjects=("Account",))
        sf_http.replace(
            "GET",
            QUERY_ALL,
            json=sfdocs.query_page(
                [
                    acme("001000000000001AAA", "2026-11-01T10:00:00.000+0000", Name="Stale"),
                    acme("001000000000004AAA", "2026-11-01T10:05:00.000+0000"),
                ]
            ),
        )
        report = pull(client, db.begin, client.settings, sobjects=("Account",))
        names = dict(db.session.execute(select(Account.salesforce_id, Account.name)).all())
    soql = queries(sf_http)[-1]
    assert "WHERE SystemModstamp >= 2026-11-01T09:50:00Z" in soql
    assert report["streams"]["Account"]["duplicates"] == 1
    assert names["001000000000001AAA"] == "Acme AAA"  # the re-read copy changed nothing
    assert "001000000000004AAA" in names
    assert len([c for c in sf_http.calls if c.request.url == DESCRIBE]) == 1  # cached a day


def test_deletion_and_undeletion(app, sf_http, make_client):
    """IsDeleted marks the hub account deleted; a newer live copy brings it back."""
    sf_http.get(DESCRIBE, json=sfdocs.describe(*CUSTOM))
    rid = "001000000000001AAA"
    pages = [
        [acme(rid, "2026-11-01T10:00:00.000+0000")],
        [acme(rid, "2026-11-02T10:00:00.000+0000", deleted=True)],
        [acme(rid, "2026-11-03T10:00:00.000+0000")],
    ]
    client = make_client()
    states = []
    sf_http.get(QUERY_ALL, json=sfdocs.query_page([]))
    with app.app_context():
        for page in pages:
            sf_http.replace("GET", QUERY_ALL, json=sfdocs.query_page(page))
            pull(client, db.begin, client.settings, sobjects=("Account",))
            db.session.expire_all()
            states.append(db.session.scalar(select(Account.deleted_at)) is not None)
    assert states == [False, True, False]


def test_missing_mapped_fields_are_left_out_and_reported(app, sf_http, make_client):
    """A mapped custom field the org lacks is not queried (no INVALID_FIELD), but reported."""
    sf_http.get(DESCRIBE, json=sfdocs.describe("MRR__c"))
    sf_http.get(QUERY_ALL, json=sfdocs.query_page([]))
    client = make_client()
    with app.app_context():
        report = pull(client, db.begin, client.settings, sobjects=("Account",))
    soql = queries(sf_http)[0]
    assert "MRR__c" in soql and "Segment__c" not in soql
    assert set(report["unmapped_fields"]) == {"Segment__c", "Plan__c", "Renewal_Date__c"}


def test_cursor_advances_page_by_page(app, sf_http, make_client):
    """A run that fails on page two keeps what page one applied and its cursor."""
    next_url = f"/services/data/v{sfdocs.VERSION}/queryAll/01gD0000002HU6KIAW-2000"
    sf_http.get(DESCRIBE, json=sfdocs.describe(*CUSTOM))
    sf_http.get(
        QUERY_ALL,
        json=sfdocs.query_page(
            [acme("001000000000001AAA", "2026-11-01T10:00:00.000+0000")], 2, next_url
        ),
    )
    sf_http.get(
        f"{sfdocs.INSTANCE}{next_url}",
        status=503,
        json=sfdocs.error("SERVER_UNAVAILABLE", "down"),
    )
    client = make_client(max_retries=1)
    with app.app_context():
        with pytest.raises(RetriableError):
            pull(client, db.begin, client.settings, sobjects=("Account",))
        cursor = db.session.scalar(
            select(SyncState.cursor).where(SyncState.stream == "salesforce:Account")
        )
        assert db.session.scalar(select(Account.salesforce_id)) == "001000000000001AAA"
    assert cursor.startswith("2026-11-01T10:00:00")


def test_pull_records_by_id_leaves_the_cursor(app, sf_http, make_client):
    """Named records (15- or 18-character ids) are read by Id; stream cursors do not move."""
    sf_http.get(DESCRIBE, json=sfdocs.describe(*CUSTOM))
    sf_http.get(
        QUERY_ALL,
        json=sfdocs.query_page([acme("001D000000IqhSLIAZ", "2026-11-05T10:00:00.000+0000")]),
    )
    client = make_client()
    with app.app_context():
        report = pull_records(
            client, db.begin, client.settings, "Account", ["001D000000IqhSL", "bad id!"]
        )
        cursor = db.session.scalar(
            select(SyncState.cursor).where(SyncState.stream == "salesforce:Account")
        )
    soql = queries(sf_http)[0]
    assert "WHERE Id IN ('001D000000IqhSLIAZ')" in soql and "ORDER BY" not in soql
    assert report["records"] == 1 and report["invalid_ids"] == ["bad id!"]
    assert cursor is None


def test_named_records_are_applied_even_at_a_known_stamp(app, sf_http, make_client):
    """The Outbound Message ingest may have stored the stamp with only some fields: a pull by
    id applies the full record anyway; the incremental pull skips it as a duplicate."""
    rid = "001000000000001AAA"
    sf_http.get(DESCRIBE, json=sfdocs.describe(*CUSTOM))
    sf_http.get(QUERY_ALL, json=sfdocs.query_page([acme(rid, "2026-11-01T10:00:00.000+0000")]))
    client = make_client()
    with app.app_context():
        pull(client, db.begin, client.settings, sobjects=("Account",))
        account = db.session.scalar(select(Account))
        assert account.attributes["salesforce"]["SystemModstamp"].startswith("2026-11-01T10:00")
        full = acme(rid, "2026-11-01T10:00:00.000+0000", Plan__c="enterprise")
        sf_http.replace("GET", QUERY_ALL, json=sfdocs.query_page([full]))
        pull(client, db.begin, client.settings, sobjects=("Account",))
        db.session.expire_all()
        assert db.session.scalar(select(Account.plan)) == "pro"  # same stamp: a duplicate
        pull_records(client, db.begin, client.settings, "Account", [rid])
        db.session.expire_all()
        assert db.session.scalar(select(Account.plan)) == "enterprise"
