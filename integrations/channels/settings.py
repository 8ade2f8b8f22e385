"""The settings of the channels, as IntegrationSpecs (stored encrypted, secrets write-only,
first start from the environment): ``smtp`` (SMTP_URL), ``twilio`` (TWILIO_*), ``slack``
(SLACK_*), ``outgoing_webhook`` (admin API only). Each spec's check tries the connection.
"""

from __future__ import annotations

import smtplib
from typing import Any

from marshmallow import Schema, fields, validate

from hub.config import Config
from hub.settings import IntegrationSpec, register
from integrations.channels.email import parse_smtp_url
from integrations.errors import FatalError, RetriableError


class SmtpSchema(Schema):
    host = fields.Str(required=True)
    port = fields.Int(load_default=587, validate=validate.Range(1, 65535))
    security = fields.Str(
        load_default="starttls", validate=validate.OneOf(["none", "starttls", "ssl"])
    )
    username = fields.Str(load_default="")
    password = fields.Str(load_default="")
    from_address = fields.Email(required=True)
    from_name = fields.Str(load_default="")
    reply_to = fields.Email(load_default=None, allow_none=True)
    app_url = fields.Url(load_default="https://app.example.com", require_tld=False)
    timeout = fields.Float(load_default=30.0, validate=validate.Range(1, 300))


def _smtp_from_config(config: Config) -> dict[str, Any]:
    try:
        return parse_smtp_url(config.smtp_url)
    except ValueError:
        return {}


def _smtp_check(settings: dict[str, Any]) -> dict[str, Any]:
    security = settings.get("security", "none")
    cls = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
    try:
        with cls(settings["host"], int(settings.get("port") or 25), timeout=10) as conn:
            if security == "starttls":
                conn.starttls()
            if settings.get("username"):
                conn.login(settings["username"], settings.get("password", ""))
            code, _ = conn.noop()
    except smtplib.SMTPAuthenticationError as exc:
        raise FatalError("SMTP login refused") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise RetriableError(f"SMTP server unreachable: {exc}") from exc
    return {"noop": code}


class TwilioSchema(Schema):
    account_sid = fields.Str(required=True, validate=validate.Regexp(r"^AC[0-9a-fA-F]{32}$"))
    auth_token = fields.Str(required=True)
    from_number = fields.Str(load_default="", validate=validate.Regexp(r"^(\+[1-9]\d{6,14})?$"))
    messaging_service_sid = fields.Str(load_default="")


def _twilio_from_config(config: Config) -> dict[str, Any]:
    t = config.twilio
    return {
        "account_sid": t.get("account_sid", ""),
        "auth_token": t.get("auth_token", ""),
        "from_number": t.get("from_number", ""),
        "messaging_service_sid": t.get("messaging_service_sid", ""),
    }


class SlackSchema(Schema):
    bot_token = fields.Str(required=True, validate=validate.Regexp(r"^xox[bp]-"))
    default_channel = fields.Str(load_default="")
    base_url = fields.Url(load_default="https://slack.com/api/", require_tld=False)


def _slack_from_config(config: Config) -> dict[str, Any]:
    s = config.slack
    return {"bot_token": s.get("bot_token", ""), "default_channel": s.get("default_channel", "")}


def _slack_check(settings: dict[str, Any]) -> dict[str, Any]:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=settings["bot_token"], base_url=settings.get("base_url") or None)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        raise FatalError(f"Slack refused the token: {exc.response.get('error')}") from exc
    return {"team": answer.get("team"), "user": answer.get("user")}


class OutgoingWebhookSchema(Schema):
    url = fields.Url(required=True, require_tld=False)
    secret = fields.Str(required=True, validate=validate.Regexp(r"^whsec_[A-Za-z0-9+/=]{16,}$"))


SPECS = [
    register(
        IntegrationSpec(
            name="smtp",
            schema=SmtpSchema,
            secret_keys=frozenset({"password"}),
            from_config=_smtp_from_config,
            check=_smtp_check,
            description="E-mail over SMTP for playbook messages",
        )
    ),
    register(
        IntegrationSpec(
            name="twilio",
            schema=TwilioSchema,
            secret_keys=frozenset({"auth_token"}),
            from_config=_twilio_from_config,
            description="SMS through Twilio",
        )
    ),
    register(
        IntegrationSpec(
            name="slack",
            schema=SlackSchema,
            secret_keys=frozenset({"bot_token"}),
            from_config=_slack_from_config,
            check=_slack_check,
            description="Slack messages to account channels and reps",
        )
    ),
    register(
        IntegrationSpec(
            name="outgoing_webhook",
            schema=OutgoingWebhookSchema,
            secret_keys=frozenset({"secret"}),
            description="Signed outgoing webhook (Standard Webhooks) for playbook messages",
        )
    ),
]
