"""Rep work: Tasks, Cases and Opportunities created once per idempotency key, ids kept."""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from hub.db import db, utcnow
from hub.models import SalesforceWork
from integrations.errors import FatalError, RetriableError, SkippableError
from integrations.salesforce.work import AccountRef, open_case, open_opportunity, open_task
from tests.integrations.salesforce import sfdocs

ACCOUNT = AccountRef("0015e00000AbCdEAAV", account_id=None, owner_salesforce_id="0055e00000Rep1AAA")
TASKS = f"{sfdocs.DATA}/sobjects/Task/"
CASES = f"{sfdocs.DATA}/sobjects/Case/"


def task(client, key="escalation:acme:2026-11-24", **extra):
    return open_task(
        client,
        db.begin,
        client.settings,
        key=key,
        account=ACCOUNT,
        subject="Health dropped to 41: call this week",
        description="Hashrate down 30%; two support tickets.",
        due_date=date(2026, 11, 27),
        priority="urgent",
        **extra,
    )


def test_task_on_the_account_for_its_owner(app, sf_http, make_client):
    """A Task is on the Account (WhatId), assigned to the owner, with due date and priority."""
    sf_http.post(TASKS, status=201, json=sfdocs.save_ok("00T5e00000TaSk1EAA"))
    client = make_client()
    with app.app_context():
        result = task(client)
        row = db.session.scalar(select(SalesforceWork))
    assert json.loads(sf_http.calls[-1].request.body) == {
        "WhatId": ACCOUNT.salesforce_id,
        "OwnerId": "0055e00000Rep1AAA",
        "Subject": "Health dropped to 41: call this week",
        "Description": "Hashrate down 30%; two support tickets.",
        "ActivityDate": "2026-11-27",
        "Priority": "High",
        "Status": "Not Started",
    }
    assert result.created and result.salesforce_id == "00T5e00000TaSk1EAA"
    assert (row.status, row.salesforce_id, row.sobject) == ("created", result.salesforce_id, "Task")


def test_same_key_never_creates_twice(app, sf_http, make_client):
    """A repeated key answers the kept id without calling Salesforce."""
    sf_http.post(TASKS, status=201, json=sfdocs.save_ok("00T5e00000TaSk1EAA"))
    client = make_client()
    with app.app_context():
        first = task(client)
        calls = len(sf_http.calls)
        second = task(client)
    assert second.salesforce_id == first.salesforce_id and not second.created
    assert len(sf_http.calls) == calls


def test_lost_answer_is_found_not_duplicated(app, sf_http, make_client):
    """A create whose answer was lost is looked up on retry and adopted."""
    sf_http.post(TASKS, body=requests.ConnectionError("reset by peer"))
    client = make_client(max_retries=0)
    with app.app_context(), pytest.raises(RetriableError):
        task(client)
    sf_http.get(
        f"{sfdocs.DATA}/query/",
        json=sfdocs.query_page([{"attributes": {"type": "Task"}, "Id": "00T5e00000Found1AA"}]),
    )
    with app.app_context():
        again = task(client)
    lookup = parse_qs(urlsplit(sf_http.calls[-1].request.url).query)["q"][0]
    assert lookup.startswith(
        "SELECT Id FROM Task WHERE WhatId = '0015e00000AbCdEAAV' "
        "AND Subject = 'Health dropped to 41: call this week' AND CreatedDate >= "
    )
    assert again.salesforce_id == "00T5e00000Found1AA" and not again.created
    assert len([c for c in sf_http.calls if c.request.url == TASKS]) == 1


def test_refused_create_can_be_tried_again(app, sf_http, make_client):
    """A refusal (bad owner) creates nothing; a later call with the same key may create."""
    sf_http.post(
        TASKS,
        status=400,
        json=sfdocs.error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["OwnerId"]),
    )
    client = make_client()
    with app.app_context():
        with pytest.raises(FatalError):
            task(client)
        assert db.session.scalar(select(SalesforceWork.status)) == "failed"
        sf_http.replace("POST", TASKS, status=201, json=sfdocs.save_ok("00T5e00000TaSk2EAA"))
        assert task(client).created


def test_case_for_negative_feedback(app, sf_http, make_client):
    """A Case is opened on the Account with the contact, priority and configured origin."""
    sf_http.post(CASES, status=201, json=sfdocs.save_ok("5005e00000CaSe1AAA"))
    client = make_client(case_origin="Survey")
    with app.app_context():
        result = open_case(
            client,
            db.begin,
            client.settings,
            key="nps:resp:991",
            account=ACCOUNT,
            subject="NPS 2: 'pool payouts late'",
            description="Detractor feedback",
            priority="high",
            contact_salesforce_id="0035e00000CoNt1AAA",
        )
    body = json.loads(sf_http.calls[-1].request.body)
    assert body["AccountId"] == ACCOUNT.salesforce_id and body["ContactId"].startswith("003")
    assert (body["Priority"], body["Origin"], body["Status"]) == ("High", "Survey", "New")
    assert result.sobject == "Case" and result.created


def test_opportunity_for_an_offer(app, sf_http, make_client):
    """An upsell Opportunity carries stage, close date, amount and type."""
    sf_http.post(
        f"{sfdocs.DATA}/sobjects/Opportunity/", status=201, json=sfdocs.save_ok("0065e00000OpP1AAA")
    )
    client = make_client()
    close = (utcnow() + timedelta(days=30)).date()
    with app.app_context():
        open_opportunity(
            client,
            db.begin,
            client.settings,
            key="offer:17",
            account=ACCOUNT,
            name="Acme: Pro -> Enterprise",
            close_date=close,
            amount=1990,
        )
    body = json.loads(sf_http.calls[-1].request.body)
    assert body["StageName"] == "Prospecting" and body["CloseDate"] == close.isoformat()
    assert body["Amount"] == 1990.0 and body["Type"] == "Existing Customer - Upgrade"


def test_account_outside_salesforce_is_skipped(app, make_client):
    """Without a Salesforce id there is nothing to open work on."""
    with app.app_context(), pytest.raises(SkippableError):
        open_task(
            make_client(),
            db.begin,
            make_client().settings,
            key="k",
            account=AccountRef(None),
            subject="s",
            description="d",
            due_date=date(2026, 1, 1),
        )
