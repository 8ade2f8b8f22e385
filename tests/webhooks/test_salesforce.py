"""POST /webhooks/salesforce: safe SOAP parsing, the org check, the Ack, applied fields, pulls."""

from __future__ import annotations

import pytest
from rq.job import Job
from sqlalchemy import func, select

from hub.ingest.soap import ACK
from hub.models import Account, Contact, Event, InboxEvent
from tests.webhooks.helpers import ORG_ID, post_salesforce, run_jobs
from tests.webhooks.payloads import outbound_message

ACCOUNT_ID = "0015e00000XyZabAAB"
CONTACT_ID = "0035e00000AbCdeAAA"


def _count(session, model=InboxEvent) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def account(session):
    row = Account(name="Old Name", salesforce_id=ACCOUNT_ID)
    session.add(row)
    session.flush()
    session.add(Contact(account_id=row.id, salesforce_id=CONTACT_ID, email="old@x.io"))
    session.commit()
    return row


def _account_message(notification_id="04l5e000001AAAA", stamp="2026-03-01T10:00:00.000Z", **f):
    fields = {
        "Id": ACCOUNT_ID,
        "Name": "Polar Capital",
        "Website": "https://www.polarcapital.io/about",
        "OwnerId": "0055e000001OwNrAAC",
        "Industry": "Financial Services",
        "Health_Score__c": "12",
        "SystemModstamp": stamp,
        **f,
    }
    return outbound_message([(notification_id, "Account", fields)])


def _pull_jobs() -> list[tuple]:
    from hub.queue import queues

    jobs = [Job.fetch(i, connection=queues.redis) for i in queues["default"].job_ids]
    return [(j.func_name, j.args) for j in jobs]


def test_message_is_acked_and_stored(client, session):
    """Salesforce gets the SOAP Ack it waits for; the envelope is stored as received."""
    response = post_salesforce(client, _account_message())
    assert response.status_code == 200
    assert response.data == ACK and response.mimetype == "text/xml"
    assert b"<Ack>true</Ack>" in response.data
    row = session.scalars(select(InboxEvent)).one()
    assert row.source == "salesforce" and row.event_type == "Account"
    assert row.external_id.startswith("notifications:")


def test_fields_are_applied_and_the_record_pulled(app, client, session, account):
    post_salesforce(client, _account_message())
    run_jobs(app, ("high",))
    session.expire_all()
    assert account.name == "Polar Capital" and account.domain == "polarcapital.io"
    assert account.owner_salesforce_id == "0055e000001OwNrAAC"
    assert account.attributes["salesforce"]["Industry"] == "Financial Services"
    assert "Health_Score__c" not in account.attributes["salesforce"]  # our own field
    assert _pull_jobs() == [("jobs.sync.salesforce_pull_records", ("Account", [ACCOUNT_ID]))]
    event = session.scalars(select(Event)).one()
    assert (event.source, event.source_event_id, event.account_id) == (
        "salesforce",
        "04l5e000001AAAA",
        account.id,
    )


def test_contact_notification_updates_the_contact(app, client, session, account):
    message = outbound_message(
        [
            (
                "04l5e000002BBBB",
                "Contact",
                {
                    "Id": CONTACT_ID,
                    "Email": "Ana@Polar.io",
                    "FirstName": "Ana",
                    "LastName": "Lima",
                    "Title": "CTO",
                    "Phone": None,
                },
            )
        ]
    )
    post_salesforce(client, message)
    run_jobs(app, ("high",))
    session.expire_all()
    contact = session.scalars(select(Contact)).one()
    assert (contact.email, contact.name, contact.role, contact.phone) == (
        "ana@polar.io",
        "Ana Lima",
        "CTO",
        None,
    )


def test_notification_rebatched_in_another_message_is_applied_once(app, client, session, account):
    """Salesforce may resend a notification in a different batch: it is applied once."""
    post_salesforce(client, _account_message())
    other = outbound_message(
        [
            ("04l5e000001AAAA", "Account", {"Id": ACCOUNT_ID, "Name": "Polar Capital"}),
            ("04l5e000009ZZZZ", "Opportunity", {"Id": "0065e000000OpPyAAA"}),
        ]
    )
    post_salesforce(client, other)
    assert _count(session) == 2  # different messages
    run_jobs(app, ("high",))
    rows = session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
    assert rows[1].result == {"duplicates": 1, "pulled only": 1}
    assert _count(session, Event) == 2


def test_older_notification_does_not_overwrite_newer_fields(app, client, session, account):
    post_salesforce(client, _account_message("04l1", "2026-03-02T00:00:00Z", Name="Newer"))
    post_salesforce(client, _account_message("04l2", "2026-03-01T00:00:00Z", Name="Older"))
    run_jobs(app, ("high",))
    session.expire_all()
    assert account.name == "Newer"


def test_other_org_is_401_and_stores_nothing(client, session):
    response = post_salesforce(
        client, outbound_message([("04lX", "Account", {"Id": "001"})], org_id="00D000000000001AAA")
    )
    assert response.status_code == 401
    assert _count(session) == 0


def test_fifteen_character_org_id_matches_the_eighteen(client, session, config):
    assert ORG_ID[:15] != ORG_ID
    response = post_salesforce(client, _account_message().replace(ORG_ID, ORG_ID[:15]))
    assert response.status_code == 200


@pytest.fixture
def no_org_app(config):
    from hub import create_app
    from hub.db import db

    app = create_app(config.with_overrides({"salesforce_org_id": ""}))
    yield app
    db.session.remove()
    db.engine.dispose()


def test_no_configured_org_refuses_everything(no_org_app):
    response = post_salesforce(no_org_app.test_client(), _account_message())
    assert response.status_code == 401


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>&lol3;</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>00D5e000000ABCDEAA</OrganizationId><Notification><Id>04l1</Id>
<sObject xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="sf:Account">&xxe;</sObject>
</Notification></notifications></soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        "<not-closed",
        "",
        "<a/>",
        outbound_message([]),
        "\xff\xfe<bad encoding/>",
    ],
    ids=[
        "entity-expansion",
        "external-entity",
        "malformed",
        "empty",
        "not-soap",
        "no-notes",
        "enc",
    ],
)
def test_unsafe_or_malformed_xml_is_400_and_nothing_enqueued(client, session, body):
    from hub.queue import queues

    response = post_salesforce(client, body.encode("utf-8", errors="surrogateescape"))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert _count(session) == 0 and queues["high"].count == 0
