"""Growth messages go out through the playbook outbox and its dispatcher to a real SMTP
server (aiosmtpd), with their links intact and customer text never run as a template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.db import db
from hub.models import Contact, OutboxMessage
from hub.offers.engine import evaluate_account
from hub.playbooks import loader
from hub.playbooks.dispatch import dispatch_due
from tests.hub.growth.conftest import BASE_URL
from tests.hub.growth.test_offers import storage

NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def mail_config(config, smtp):
    _mailbox, port = smtp
    return config.with_overrides(
        {"smtp_url": f"smtp://127.0.0.1:{port}?from=cs@hub.example&from_name=CS"}
    )


def test_offer_invite_and_survey_emails_are_delivered(
    app,
    session,
    smtp,
    mail_config,
    make_account,
):
    """An offer, a referral invitation and a survey each arrive once, links intact."""
    from hub.feedback.sender import send_due
    from hub.referrals.invites import invite

    mailbox, _ = smtp
    offer_account = make_account("Braces {{ 7*7 }} Mining", email="o@offer.io")
    storage(session, offer_account, True)
    make_account("Survey Co", email="s@survey.io", tenure_days=14)
    make_account("Fan Co", email="f@fan.io")
    session.commit()
    evaluate_account(session, offer_account, NOON, BASE_URL)
    send_due(session, NOON, BASE_URL)
    fan = session.scalar(select(Contact).where(Contact.email == "f@fan.io"))
    invite(session, fan, "nps_promoter", NOON, BASE_URL)
    session.commit()
    with app.app_context():
        report = dispatch_due(db.engine, mail_config, loader.guard_settings(), now=NOON)
        dispatch_due(
            db.engine, mail_config, loader.guard_settings(), now=NOON + timedelta(minutes=5)
        )
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
    assert {r.status for r in rows} == {"sent"}, [(r.step_key, r.last_error) for r in rows]
    assert report.failed == 0 and len(mailbox.messages) == 3
    by_rcpt = {rcpts[0]: msg for rcpts, msg in mailbox.messages}
    offer_text = by_rcpt["o@offer.io"].get_body(("plain",)).get_content()
    assert "Braces {{ 7*7 }} Mining" in offer_text and f"{BASE_URL}/o/" in offer_text
    survey_text = by_rcpt["s@survey.io"].get_body(("plain",)).get_content()
    assert survey_text.count(f"{BASE_URL}/s/") == 7
    invite_text = by_rcpt["f@fan.io"].get_body(("plain",)).get_content()
    assert f"{BASE_URL}/r/" in invite_text and "20% off their first year" in invite_text
