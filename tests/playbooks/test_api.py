"""The playbooks, outbox and in-app APIs."""

from __future__ import annotations

from sqlalchemy import select

from hub.models import JourneyEnrolment, OutboxMessage, PlaybookVersion
from hub.playbooks import loader
from hub.playbooks.engine import evaluate
from tests.playbooks.conftest import T0, add_account, add_contact, at


def test_list_shows_every_default_with_state_and_no_invented_rates(client, admin_headers):
    """Measured rates are None until outcomes exist; targets stay under 'target'."""
    answer = client.get("/api/playbooks", headers=admin_headers)
    assert answer.status_code == 200
    items = {i["key"]: i for i in answer.json["items"]}
    assert set(items) == set(loader.default_sources())
    usage = items["intervention_usage_decline"]
    assert usage["enabled"] is True and usage["version"] == 0
    assert usage["measured"]["success_rate"] is None and usage["measured"]["finished"] == 0
    assert usage["target"]["success_rate"] == 0.78


def test_put_invalid_yaml_answers_422_with_line_numbers(client, admin_headers):
    """A bad channel on line 8 is reported at line 8; nothing is saved."""
    text = loader.default_sources()["win_back_lapsed"].replace(
        "send: {channel: email, template: winback_lapsed}",
        "send: {channel: pigeon, template: winback_lapsed}",
    )
    line = text.splitlines().index(next(x for x in text.splitlines() if "pigeon" in x)) + 1
    answer = client.put(
        "/api/playbooks/win_back_lapsed", json={"yaml": text}, headers=admin_headers
    )
    assert answer.status_code == 422
    error = answer.json["error"]
    assert error["code"] == "invalid_playbook"
    assert error["errors"][0]["line"] == line
    assert error["errors"][0]["path"].endswith("send.channel")
    assert f"line {line}" in error["message"]
    assert client.get("/api/playbooks/win_back_lapsed/versions", headers=admin_headers).json[
        "items"
    ] == [{"version": 0, "created_by": "shipped default", "enabled": True}]


def test_put_valid_yaml_creates_a_version_and_rep_cannot_write(client, admin_headers, session):
    """An edit is version 1, listed with its author; the YAML of version 0 stays readable."""
    text = loader.default_sources()["win_back_lapsed"].replace("pct: 30", "pct: 30")
    text = text.replace("discount_pct: 30", "discount_pct: 25")
    answer = client.put(
        "/api/playbooks/win_back_lapsed", json={"yaml": text}, headers=admin_headers
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["version"] == 1 and answer.json["origin"] == "edited"
    versions = client.get("/api/playbooks/win_back_lapsed/versions", headers=admin_headers).json
    assert [v["version"] for v in versions["items"]] == [1, 0]
    assert (
        "discount_pct: 25"
        in client.get("/api/playbooks/win_back_lapsed/versions/1", headers=admin_headers).json[
            "yaml"
        ]
    )
    assert (
        "discount_pct: 30"
        in client.get("/api/playbooks/win_back_lapsed/versions/0", headers=admin_headers).json[
            "yaml"
        ]
    )
    from hub.auth import create_token

    _row, rep = create_token(session, "rep", "rep")
    session.commit()
    denied = client.put(
        "/api/playbooks/win_back_lapsed",
        json={"yaml": text},
        headers={"Authorization": f"Bearer {rep}"},
    )
    assert denied.status_code == 403


def test_put_with_a_changed_key_is_refused(client, admin_headers):
    """The YAML's key must match the URL."""
    text = loader.default_sources()["win_back_lapsed"].replace(
        "key: win_back_lapsed", "key: something_else"
    )
    answer = client.put(
        "/api/playbooks/win_back_lapsed", json={"yaml": text}, headers=admin_headers
    )
    assert answer.status_code == 422
    assert answer.json["error"]["errors"][0]["line"] == 1


def test_dry_run_against_one_account_saves_nothing(client, admin_headers, session):
    """The dry run lists the enrolment and messages; no enrolment or message is stored."""
    account = add_account(session, "crypto_trader", signup=T0.date())
    add_contact(session, account)
    session.commit()
    answer = client.post(
        "/api/playbooks/onboarding_crypto_trader/dry-run",
        json={"account_id": account.id, "as_of": at(0).isoformat()},
        headers=admin_headers,
    )
    assert answer.status_code == 200, answer.json
    kinds = [a["action"] for a in answer.json["actions"]]
    assert kinds[0] == "enrol"
    messages = [a for a in answer.json["actions"] if a["action"] == "message"]
    assert [m["step"] for m in messages] == ["day0_welcome", "day0_checklist"]
    assert all(m["status"] == "dry_run" for m in messages)
    assert session.scalar(select(JourneyEnrolment.id)) is None
    assert session.scalar(select(OutboxMessage.id)) is None


def test_snooze_and_disable_stop_new_enrolments(client, admin_headers, session):
    """A snoozed or disabled playbook enrols nobody; waking it lets the account in."""
    account = add_account(session, "crypto_trader", signup=T0.date())
    add_contact(session, account)
    session.commit()
    answer = client.post(
        "/api/playbooks/onboarding_crypto_trader/snooze",
        json={"until": at(1).isoformat()},
        headers=admin_headers,
    )
    assert answer.status_code == 200 and answer.json["snoozed_until"]
    evaluate(session, now=at(0))
    session.commit()
    assert session.scalar(select(JourneyEnrolment.id)) is None
    client.patch(
        "/api/playbooks/onboarding_crypto_trader", json={"enabled": False}, headers=admin_headers
    )
    evaluate(session, now=at(1, 13))
    session.commit()
    assert session.scalar(select(JourneyEnrolment.id)) is None
    client.patch(
        "/api/playbooks/onboarding_crypto_trader", json={"enabled": True}, headers=admin_headers
    )
    evaluate(session, now=at(1, 14))
    session.commit()
    assert session.scalar(select(JourneyEnrolment.playbook_key)) == "onboarding_crypto_trader"
    assert session.scalar(select(PlaybookVersion.version).order_by(PlaybookVersion.id.desc())) == 3


def test_account_snooze_pauses_every_playbook(client, admin_headers, session):
    """A snoozed account is skipped until the snooze ends."""
    account = add_account(session, "individual_miner", signup=T0.date())
    add_contact(session, account)
    session.commit()
    answer = client.post(
        f"/api/playbooks/accounts/{account.id}/snooze",
        json={"until": at(2).isoformat()},
        headers=admin_headers,
    )
    assert answer.status_code == 200
    evaluate(session, now=at(0))
    session.commit()
    assert session.scalar(select(JourneyEnrolment.id)) is None
    evaluate(session, now=at(2, 13))
    session.commit()
    assert session.scalar(select(JourneyEnrolment.id)) is not None


def test_guard_settings_are_versioned_and_validated(client, admin_headers, session):
    """Saving guard settings changes the quiet hours in force; nonsense is a 422."""
    bad = client.put(
        "/api/playbooks/settings/guards",
        json={"yaml": "quiet_hours: {start: 'x'}"},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    text = "quiet_hours: {start: '22:00', end: '07:00', channels: [email]}\nfrequency_caps: []\n"
    ok = client.put("/api/playbooks/settings/guards", json={"yaml": text}, headers=admin_headers)
    assert ok.status_code == 200 and ok.json["version"] == 1
    settings = loader.guard_settings(session)
    assert settings.quiet_hours.start.hour == 22 and settings.caps == ()


def test_outbox_list_summary_and_resend(client, admin_headers, session):
    """Failures are listed with their error and can be re-sent; a pending one cannot."""
    account = add_account(session, "individual_miner", signup=T0.date())
    add_contact(session, account)
    session.commit()
    evaluate(session, now=at(0))
    session.commit()
    first = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    first.status, first.last_error = "failed", "SMTP 550 mailbox unavailable"
    session.commit()
    listed = client.get("/api/outbox?status=failed", headers=admin_headers)
    assert listed.status_code == 200
    assert [m["last_error"] for m in listed.json] == ["SMTP 550 mailbox unavailable"]
    summary = client.get("/api/outbox/summary", headers=admin_headers).json
    assert summary["by_status"]["failed"] == 1
    again = client.post(f"/api/outbox/{first.id}/resend", headers=admin_headers)
    assert again.status_code == 200 and again.json["status"] == "pending"
    second = client.post(f"/api/outbox/{first.id}/resend", headers=admin_headers)
    assert second.status_code == 409


def test_channels_list_says_why_a_channel_is_disabled(client, admin_headers):
    """Unconfigured channels are listed as disabled with the reason; in-app needs nothing."""
    items = {
        c["name"]: c
        for c in client.get("/api/outbox/channels", headers=admin_headers).json["items"]
    }
    assert items["inapp"]["enabled"] is True
    assert items["email"]["enabled"] is False and "host" in items["email"]["reason"]
    assert items["sms"]["enabled"] is False and "not configured" in items["sms"]["reason"]
