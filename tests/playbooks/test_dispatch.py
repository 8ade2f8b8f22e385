"""Dispatch through real SMTP: content, tracking, unsubscribe, retries, at-most-once claims."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.db import db
from hub.models import Contact, Event, OutboxMessage
from hub.playbooks import loader
from hub.playbooks.dispatch import LEASE, UNKNOWN_OUTCOME, Dispatcher, dispatch_due
from hub.playbooks.engine import evaluate
from hub.playbooks.outbox import OutgoingMessage, enqueue, enqueue_many
from tests.playbooks.conftest import T0, add_account, add_contact, at


@pytest.fixture
def mail_config(config, smtp):
    _mailbox, port = smtp
    return config.with_overrides(
        {
            "smtp_url": f"smtp://127.0.0.1:{port}?from=cs@hub.example&from_name=CS",
            "base_url": "http://hub.test",
        }
    )


def _dispatch(app, mail_config, now):
    with app.app_context():
        return dispatch_due(db.engine, mail_config, loader.guard_settings(), now=now)


def test_welcome_email_has_text_html_tracking_and_one_click_unsubscribe(
    app, session, smtp, mail_config, client
):
    """The day-0 e-mail arrives once with both parts, per-segment copy and signed links."""
    mailbox, _ = smtp
    account = add_account(session, "mining_farm", signup=T0.date(), name="Polar Farms")
    contact = add_contact(session, account, name="Ines Ops", email="ines@polar.example")
    session.commit()
    evaluate(session, now=at(0))
    session.commit()
    report = _dispatch(app, mail_config, at(0))
    errors = [(r.channel, r.last_error) for r in session.scalars(select(OutboxMessage))]
    assert report.sent == 1 and report.waiting_for_channel == 1, errors  # no Salesforce yet
    assert mailbox.messages, [
        (r.channel, r.status, r.external_id, r.last_error)
        for r in session.scalars(select(OutboxMessage))
    ]
    rcpts, msg = mailbox.messages[0]
    assert rcpts == ["ines@polar.example"]
    assert "fleet rollout" in msg["Subject"]  # the mining_farm variant of the template
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Hi Ines" in text and "<h1" in html
    pixel = re.search(r'src="http://hub.test(/t/o/[^"]+)"', html).group(1)
    click = re.search(r"http://hub.test(/t/c/\S+)", text).group(1)
    unsubscribe = re.search(r"<http://hub.test(/t/u/[^>]+)>", msg["List-Unsubscribe"]).group(1)
    assert client.get(pixel).status_code == 200
    redirected = client.get(click)
    assert redirected.status_code == 302 and redirected.location.startswith("https://")
    assert client.get(click.replace(click[-6:], "AAAAAA")).status_code == 404  # tampered
    assert client.post(unsubscribe, data="List-Unsubscribe=One-Click").status_code == 200
    session.expire_all()
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "email"))
    assert row.status == "sent" and row.opened_at and row.clicked_at
    names = set(session.scalars(select(Event.name).where(Event.source == "hub")))
    assert {"email_opened", "email_clicked", "unsubscribed"} <= names
    assert session.get(Contact, contact.id).unsubscribed == ["email"]
    # the next e-mail of the journey is suppressed at queue time
    evaluate(session, now=at(1))
    session.commit()
    day1 = session.scalar(
        select(OutboxMessage).where(OutboxMessage.step_key == "day1_connect_fleet")
    )
    assert day1.status == "suppressed" and "unsubscribed" in day1.last_error


def test_dispatch_twice_sends_once(app, session, smtp, mail_config):
    """A second dispatch (a retried job) finds nothing to send."""
    mailbox, _ = smtp
    account = add_account(session, "crypto_trader", signup=T0.date())
    add_contact(session, account)
    session.commit()
    evaluate(session, now=at(0))
    evaluate(session, now=at(0))  # a retried evaluation queues nothing new
    session.commit()
    assert _dispatch(app, mail_config, at(0)).sent == 2  # e-mail and in-app
    assert _dispatch(app, mail_config, at(0)).sent == 0
    assert len(mailbox.messages) == 1


def test_enqueue_is_idempotent_per_key(session):
    """The same (playbook, step, account, contact, occurrence) is queued once."""
    account = add_account(session)
    contact = add_contact(session, account)
    msg = OutgoingMessage("email", account.id, contact.id, "pb", "s1", 1, subject="Hi", body="x")
    first = enqueue(session, msg)
    assert enqueue(session, msg) == first
    assert enqueue_many(session, [msg, msg]) == {}
    other = OutgoingMessage("email", account.id, contact.id, "pb", "s1", 2, subject="Hi", body="x")
    assert len(enqueue_many(session, [other])) == 1


def test_retriable_failure_backs_off_then_gives_up(app, session, config):
    """An unreachable SMTP server: retried later with growing delays, then failed, visible."""
    account = add_account(session)
    contact = add_contact(session, account)
    enqueue(
        session,
        OutgoingMessage("email", account.id, contact.id, "pb", "s", 1, subject="Hi", body="Hello"),
        now=T0,
    )
    session.commit()
    from tests.playbooks.conftest import free_port

    cfg = config.with_overrides({"smtp_url": f"smtp://127.0.0.1:{free_port()}?from=cs@hub.example"})
    now = T0
    delays = []
    for _ in range(10):
        with app.app_context():
            dispatch_due(db.engine, cfg, loader.guard_settings(), now=now)
        session.expire_all()
        row = session.scalar(select(OutboxMessage))
        if row.status != "pending":
            break
        delays.append((row.due_at - now).total_seconds())
        now = row.due_at
    assert row.status == "failed" and "gave up after 6 attempts" in row.last_error
    assert delays == [60, 300, 1800, 7200, 21600]


def test_stale_sending_row_is_never_resent_for_email(app, session, smtp, mail_config):
    """A row left 'sending' by a dead dispatcher becomes failed (unknown), not re-sent."""
    mailbox, _ = smtp
    account = add_account(session)
    contact = add_contact(session, account)
    enqueue(
        session,
        OutgoingMessage("email", account.id, contact.id, "pb", "s", 1, subject="Hi", body="x"),
        now=T0,
    )
    enqueue(
        session,
        OutgoingMessage("inapp", account.id, contact.id, "pb", "s2", 1, subject="Hi", body="x"),
        now=T0,
    )
    session.commit()
    for row in session.scalars(select(OutboxMessage)):
        row.status, row.claimed_at, row.claim_token, row.attempts = "sending", T0, "dead", 1
    session.commit()
    report = _dispatch(app, mail_config, T0 + LEASE / 2)
    assert report.sent == 0 and report.unknown_outcome == 0  # still within the lease
    report = _dispatch(app, mail_config, T0 + LEASE + timedelta(seconds=1))
    assert report.unknown_outcome == 1 and report.recovered == 1 and report.sent == 1
    session.expire_all()
    email = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "email"))
    inapp = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "inapp"))
    assert email.status == "failed" and email.last_error == UNKNOWN_OUTCOME
    assert inapp.status == "sent"  # in-app delivery is idempotent: safely repeated
    assert mailbox.messages == []


def test_two_dispatchers_never_start_the_same_message(app, session, mail_config):
    """Reservation and start are conditional updates: a second claimant gets nothing."""
    account = add_account(session)
    contact = add_contact(session, account)
    enqueue(
        session,
        OutgoingMessage("inapp", account.id, contact.id, "pb", "s", 1, subject="Hi", body="x"),
        now=T0,
    )
    session.commit()
    with app.app_context():
        a = Dispatcher(db.engine, mail_config, loader.guard_settings(), now=T0)
        b = Dispatcher(db.engine, mail_config, loader.guard_settings(), now=T0)
        ids_a = a.reserve(10)
        assert b.reserve(10) == []
        b.deliver(ids_a[0])  # b does not hold the reservation
        assert b.report.lost_race == 1
        a.deliver(ids_a[0])
        assert a.report.sent == 1


def test_concurrent_senders_deliver_each_message_once(app, session, smtp, mail_config):
    """Four sending threads, each with its own SMTP connection: 40 messages, 40 deliveries."""
    mailbox, _ = smtp
    account = add_account(session)
    contacts = [add_contact(session, account, email=f"c{i}@example.com") for i in range(40)]
    enqueue_many(
        session,
        [
            OutgoingMessage("email", account.id, c.id, "pb", "bulk", 1, subject="Hi", body="x")
            for c in contacts
        ],
        now=T0,
    )
    session.commit()
    with app.app_context():
        report = dispatch_due(
            db.engine, mail_config, loader.guard_settings(), now=T0, concurrency=4, batch_size=7
        )
    assert report.sent == 40 and report.reserved == 40
    assert len(mailbox.messages) == 40 and len(set(mailbox.keys())) == 40
