"""POST /webhooks/mixpanel: Basic auth, Mixpanel's answer bodies, cohorts on contacts/accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.models import Account, Contact, InboxEvent
from tests.webhooks.helpers import basic, post_mixpanel, run_jobs
from tests.webhooks.payloads import cohort_message, member


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(InboxEvent))


@pytest.fixture
def people(session):
    acme = Account(name="Volt Capital", mixpanel_group_key="grp-volt")
    other = Account(name="Arc Mining")
    session.add_all([acme, other])
    session.flush()
    ana = Contact(account_id=acme.id, email="ana@volt.io", mixpanel_distinct_id="u-ana")
    ben = Contact(account_id=acme.id, email="ben@volt.io", mixpanel_distinct_id="u-ben")
    cy = Contact(account_id=other.id, email="cy@arc.io", mixpanel_distinct_id="u-cy")
    session.add_all([ana, ben, cy])
    session.commit()
    return {"acme": acme, "other": other, "ana": ana, "ben": ben, "cy": cy}


def _sync(app, client, session, *messages):
    for message in messages:
        response = post_mixpanel(client, message)
        assert response.status_code == 200, response.data
        assert response.json == {"action": message["action"], "status": "success"}
    run_jobs(app)
    session.expire_all()


def test_members_sets_cohorts_on_contacts_and_their_account(app, client, session, people):
    message = cohort_message(
        "members", [member("ana@volt.io", "u-ana"), member("cy@arc.io", "someone-else")]
    )
    _sync(app, client, session, message)
    assert people["ana"].cohorts == ["Power Miners"]
    assert people["cy"].cohorts == ["Power Miners"]  # matched by email
    assert people["ben"].cohorts == []
    assert people["acme"].cohorts == ["Power Miners"]
    assert people["other"].cohorts == ["Power Miners"]
    row = session.scalars(select(InboxEvent)).one()
    assert row.status == "processed" and row.result["unmatched"] == 0


def test_add_then_remove_members(app, client, session, people):
    _sync(app, client, session, cohort_message("add_members", [member("x@y", "u-ben")]))
    assert people["ben"].cohorts == ["Power Miners"]
    _sync(app, client, session, cohort_message("remove_members", [member("x@y", "u-ben")]))
    assert people["ben"].cohorts == [] and people["acme"].cohorts == []


def test_older_add_processed_late_does_not_undo_a_remove(app, client, session, people):
    """A retried add_members older than an applied remove_members leaves the member out."""
    add = cohort_message("add_members", [member("ben@volt.io", "u-ben")], session_id="s1")
    remove = cohort_message("remove_members", [member("ben@volt.io", "u-ben")], session_id="s2")
    assert post_mixpanel(client, add).status_code == 200  # received first, lower inbox id
    from hub.queue import queues

    queues.redis.flushdb()  # its job is lost; it will be swept and processed late
    _sync(app, client, session, remove)
    from hub.ingest.inbox import sweep

    assert sweep(stale_s=0, lease_s=60).requeued == 1
    run_jobs(app)
    session.expire_all()
    assert people["ben"].cohorts == []


def test_group_cohort_matches_accounts_by_group_key(app, client, session, people):
    _sync(app, client, session, cohort_message("members", [{"mixpanel_distinct_id": "grp-volt"}]))
    assert people["acme"].cohorts == ["Power Miners"] and people["ana"].cohorts == []


def test_full_sync_over_pages_removes_members_no_longer_in_the_cohort(app, client, session, people):
    """A paged 'members' refresh replaces the cohort once all of its pages are in."""
    first = cohort_message(
        "members", [member("ana@volt.io", "u-ana"), member("ben@volt.io", "u-ben")], session_id="a"
    )
    _sync(app, client, session, first)
    assert people["ben"].cohorts == ["Power Miners"]
    page1 = cohort_message("members", [member("ana@volt.io", "u-ana")], session_id="b", total=2)
    _sync(app, client, session, page1)
    assert people["ben"].cohorts == ["Power Miners"]  # not all pages in yet
    page2 = cohort_message(
        "members", [member("cy@arc.io", "u-cy")], session_id="b", page=1, total=2
    )
    _sync(app, client, session, page2)
    assert people["ana"].cohorts == ["Power Miners"] and people["cy"].cohorts == ["Power Miners"]
    assert people["ben"].cohorts == []
    assert people["acme"].cohorts == ["Power Miners"]  # ana still in


def test_two_cohorts_accumulate(app, client, session, people):
    _sync(
        app,
        client,
        session,
        cohort_message("add_members", [member("a", "u-ana")], cohort_id="1", name="Whales"),
        cohort_message("add_members", [member("a", "u-ana")], cohort_id="2", name="At Risk"),
    )
    assert people["ana"].cohorts == ["At Risk", "Whales"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic bm9jb2xvbg=="},  # "nocolon"
        basic(password="wrong"),
        basic(user="other"),
    ],
    ids=["none", "bearer", "not-b64", "no-colon", "bad-password", "bad-user"],
)
def test_bad_credentials_are_401_with_mixpanels_failure_body(client, session, headers):
    import orjson

    body = orjson.dumps(cohort_message("members", []))
    response = client.post("/webhooks/mixpanel", data=body, headers=headers)
    assert response.status_code == 401
    assert response.json["status"] == "failure" and response.json["action"] == "members"
    assert response.json["error"]["code"] == 401 and response.json["error"]["message"]
    assert _count(session) == 0


@pytest.mark.parametrize("body", [b"{oops", b"[]", b'{"parameters": {}}', b'{"action": 5}'])
def test_malformed_message_is_400_with_failure_body(client, session, body):
    response = client.post("/webhooks/mixpanel", data=body, headers=basic())
    assert response.status_code == 400 and response.json["status"] == "failure"
    assert _count(session) == 0


def test_retried_page_is_stored_once(client, session):
    message = cohort_message("members", [member("a@b", "u-a")])
    assert post_mixpanel(client, message).status_code == 200
    assert post_mixpanel(client, message).status_code == 200
    assert _count(session) == 1


def test_unknown_action_is_ignored(app, client, session):
    message = {"action": "rename_cohort", "parameters": {"mixpanel_cohort_id": "9"}}
    response = post_mixpanel(client, message)
    assert response.json == {"action": "rename_cohort", "status": "success"}
    run_jobs(app)
    assert session.scalars(select(InboxEvent)).one().status == "ignored"
