"""Each channel adapter at its HTTP boundary: Salesforce (local fake), Twilio and the outgoing
webhook (responses), Slack (a local HTTP server, as slack-sdk does not use requests), in-app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import select

from hub.db import db
from hub.models import OutboxMessage
from hub.playbooks import loader
from hub.playbooks.dispatch import dispatch_due
from hub.playbooks.outbox import OutgoingMessage, enqueue, resend
from integrations.channels.base import ChannelContext, Envelope
from integrations.channels.webhook import WebhookChannel, sign
from integrations.errors import FatalError, RetriableError
from tests.fakes.salesforce import fake_salesforce  # noqa: F401  (fixture)
from tests.playbooks.conftest import T0, add_account, add_contact

CONTEXT = ChannelContext(base_url="http://hub.test", secret_key="k")


def _dispatch(app, config, now=T0):
    with app.app_context():
        # one sending thread: the faked responses below are consumed in order
        return dispatch_due(db.engine, config, loader.guard_settings(), now=now, concurrency=1)


def _save_integration(client, admin_headers, name, values):
    answer = client.put(f"/api/integrations/{name}", json=values, headers=admin_headers)
    assert answer.status_code == 200, answer.json


def test_salesforce_task_created_once_per_key(
    app,
    session,
    config,
    client,
    admin_headers,
    fake_salesforce,  # noqa: F811
):
    """An escalation Task lands in Salesforce with owner, due date, priority; a re-send of the
    same message adopts the record instead of creating another."""
    sf_account = fake_salesforce.seed_accounts(1)[0]
    _save_integration(client, admin_headers, "salesforce", fake_salesforce.settings())
    account = add_account(session, salesforce_id=sf_account, name="Volt Mining")
    add_contact(session, account)
    enqueue(
        session,
        OutgoingMessage(
            "sf_task",
            account.id,
            None,
            "intervention_usage_decline",
            "success_manager_call",
            1,
            subject="Usage down at {{ account.name }}",
            body="Down {{ (detail.change * 100) | round | int }} %",
            payload={
                "priority": "High",
                "due_in_days": 2,
                "today": "2026-03-02",
                "detail": {"change": -0.42},
            },
        ),
        now=T0,
    )
    session.commit()
    cfg = config.with_overrides({"requests_ca_bundle": fake_salesforce.ca_path})
    assert _dispatch(app, cfg).sent == 1
    tasks = list(fake_salesforce.org.records["Task"].values())
    assert len(tasks) == 1
    task = tasks[0]
    assert task["Subject"] == "Usage down at Volt Mining"
    assert task["Description"] == "Down -42 %"
    assert task["Priority"] == "High" and str(task["ActivityDate"]) == "2026-03-04"
    assert task["WhatId"] == sf_account
    row = session.scalar(select(OutboxMessage))
    session.refresh(row)
    resend(session, row, "test", now=T0)
    session.commit()
    assert _dispatch(app, cfg).sent == 1
    assert len(fake_salesforce.org.records["Task"]) == 1  # once per idempotency key


SID = "AC" + "0" * 32


@responses.activate
def test_sms_through_twilio_and_error_classes(app, session, config):
    """A text goes to the contact's phone; 400 fails, 503 retries later."""
    url = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    responses.post(url, json={"sid": "SM123", "status": "queued"}, status=201)
    responses.post(url, json={"code": 21211, "message": "Invalid 'To'", "status": 400}, status=400)
    responses.post(url, json={"message": "down", "status": 503}, status=503)
    account = add_account(session)
    contact = add_contact(session, account, phone="+14155550100")
    for step in ("ok", "bad", "flaky"):
        enqueue(
            session,
            OutgoingMessage(
                "sms",
                account.id,
                contact.id,
                "pb",
                step,
                1,
                body="Hi {{ first_name }}, rig offline.",
            ),
            now=T0,
        )
    session.commit()
    cfg = config.with_overrides(
        {"twilio": {"account_sid": SID, "auth_token": "t", "from_number": "+14155550199"}}
    )
    report = _dispatch(app, cfg)
    assert (report.sent, report.failed, report.retrying) == (1, 1, 1)
    sent = parse_qs(responses.calls[0].request.body)
    assert sent["To"] == ["+14155550100"] and sent["Body"] == ["Hi Dana, rig offline."]
    rows = {r.step_key: r for r in session.scalars(select(OutboxMessage))}
    assert rows["ok"].external_id == "SM123"
    assert "Invalid" in rows["bad"].last_error and rows["flaky"].status == "pending"


class _SlackHandler(BaseHTTPRequestHandler):
    calls: list = []
    rate_limited = False

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode()
        type(self).calls.append((self.path, body))
        if type(self).rate_limited:
            type(self).rate_limited = False
            self.send_response(429)
            self.send_header("Retry-After", "7")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": false, "error": "ratelimited"}')
            return
        if self.path.endswith("users.lookupByEmail"):
            answer = {"ok": True, "user": {"id": "U0REP"}}
        else:
            answer = {"ok": True, "channel": "C0CS", "ts": "1700000000.000100"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args):
        pass


@pytest.fixture
def slack_server():
    _SlackHandler.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlackHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/"
    server.shutdown()
    server.server_close()


def test_slack_to_rep_and_account_channel_with_rate_limit(app, session, config, slack_server):
    """'rep' DMs the owner found by e-mail; the account channel comes from its attribute;
    a 429 is retried after Retry-After."""
    account = add_account(session, attributes={"slack_channel": "#cs-volt"})
    for step, to in (("alert", "rep"), ("post", "account_channel")):
        enqueue(
            session,
            OutgoingMessage(
                "slack",
                account.id,
                None,
                "pb",
                step,
                1,
                body="{{ account.name }} at risk",
                payload={"to": to},
            ),
            now=T0,
        )
    session.commit()
    cfg = config.with_overrides({"slack": {"bot_token": "xoxb-test", "base_url": slack_server}})
    from hub.settings import get_spec, save

    save(session, get_spec("slack"), {"bot_token": "xoxb-test", "base_url": slack_server}, cfg, "t")
    session.commit()
    assert _dispatch(app, cfg).sent == 2
    paths = [p for p, _ in _SlackHandler.calls]
    assert paths == ["/api/users.lookupByEmail", "/api/chat.postMessage", "/api/chat.postMessage"]
    assert "U0REP" in _SlackHandler.calls[1][1] and "cs-volt" in _SlackHandler.calls[2][1]
    _SlackHandler.rate_limited = True
    enqueue(
        session,
        OutgoingMessage(
            "slack", account.id, None, "pb", "again", 1, body="x", payload={"to": "account_channel"}
        ),
        now=T0,
    )
    session.commit()
    report = _dispatch(app, cfg)
    assert report.retrying == 1
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.step_key == "again"))
    assert (row.due_at - T0).total_seconds() == 60  # the backoff is longer than Retry-After 7


def test_standard_webhooks_signature_matches_the_reference_vector():
    """The signature over id.timestamp.body with the whsec_ key equals the spec's example."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert (
        sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@responses.activate
def test_outgoing_webhook_is_signed_and_classified():
    """The receiver can verify the headers; 5xx is retriable, 4xx fatal."""
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    responses.post("https://hooks.example/cs", status=204)
    responses.post("https://hooks.example/cs", status=503)
    responses.post("https://hooks.example/cs", status=410)
    channel = WebhookChannel({"url": "https://hooks.example/cs", "secret": secret}, CONTEXT)
    envelope = Envelope(
        5, "pb:s:a1:c-:o1", "webhook", {"id": 1, "name": "A", "segment": "x"}, None, body="hello"
    )
    delivery = channel.send(envelope)
    request = responses.calls[0].request
    signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode()
    expected = base64.b64encode(
        hmac.new(base64.b64decode(secret[6:]), signed + request.body, hashlib.sha256).digest()
    ).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"
    assert delivery.external_id == request.headers["webhook-id"]
    assert json.loads(request.body)["data"]["body"] == "hello"
    with pytest.raises(RetriableError):
        channel.send(envelope)
    with pytest.raises(FatalError):
        channel.send(envelope)


def test_inapp_messages_and_read_receipts(app, session, config, client, admin_headers):
    """Delivered in-app messages are served to the product; a read receipt is recorded once."""
    account = add_account(session, "crypto_trader")
    contact = add_contact(session, account)
    other = add_contact(session, account, email="other@example.com")
    enqueue(
        session,
        OutgoingMessage(
            "inapp", account.id, contact.id, "pb", "tip", 1, template="onboarding_checklist"
        ),
        now=T0,
    )
    session.commit()
    assert _dispatch(app, config).sent == 1
    listed = client.get(f"/api/inapp/{contact.id}", headers=admin_headers).json
    assert listed[0]["subject"] == "Your getting-started checklist"
    assert "Connect a portfolio" in listed[0]["body"] and listed[0]["read_at"] is None
    message_id = listed[0]["id"]
    assert (
        client.post(f"/api/inapp/{other.id}/{message_id}/read", headers=admin_headers).status_code
        == 404
    )
    first = client.post(f"/api/inapp/{contact.id}/{message_id}/read", headers=admin_headers).json
    second = client.post(f"/api/inapp/{contact.id}/{message_id}/read", headers=admin_headers).json
    assert first["read_at"] and first["read_at"] == second["read_at"]
    assert client.get(f"/api/inapp/{contact.id}?unread=true", headers=admin_headers).json == []
