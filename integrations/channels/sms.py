"""SMS through Twilio (the ``twilio`` client). Settings: IntegrationSpec ``twilio``, first start
from ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN`` and ``TWILIO_FROM_NUMBER`` or
``TWILIO_MESSAGING_SERVICE_SID``.

Text comes from ``templates/sms/<template>[.<segment>].txt.j2`` or the step's inline ``text``.
Twilio does not deduplicate message creation, so a request that timed out after being sent
is an unknown outcome (failed, re-sendable), never retried blind.
"""

from __future__ import annotations

from typing import Any

import requests

from integrations.channels.base import CUSTOMER, Channel, Delivery, Envelope
from integrations.channels.render import render_blocks, render_string
from integrations.errors import FatalError, RetriableError, SkippableError, classify_http

MAX_SEGMENTS_CHARS = 1600  # Twilio's limit for one message body


def sms_text(envelope: Envelope, context: dict[str, Any]) -> str:
    segment = envelope.account.get("segment")
    if envelope.template:
        blocks = render_blocks("sms", envelope.template, segment, "txt", context)
        if blocks is None:
            raise FatalError(f"no SMS template named {envelope.template!r}")
        return blocks["_full"]
    return render_string(envelope.body, context) or ""


class SmsChannel(Channel):
    name = "sms"
    title = "SMS (Twilio)"
    audience = CUSTOMER
    spec = "twilio"
    requires = ("twilio",)
    required_settings = ("account_sid", "auth_token")

    @classmethod
    def unconfigured(cls, settings: dict[str, Any]) -> str | None:
        reason = super().unconfigured(settings)
        if reason:
            return reason
        if not (settings.get("from_number") or settings.get("messaging_service_sid")):
            return "not configured: from_number or messaging_service_sid unset"
        return None

    def client(self):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        http = TwilioHttpClient(timeout=self.context.timeout_s)
        return Client(self.settings["account_sid"], self.settings["auth_token"], http_client=http)

    def send(self, envelope: Envelope) -> Delivery:
        from twilio.base.exceptions import TwilioRestException

        contact = envelope.contact or {}
        if not contact.get("phone"):
            raise SkippableError("the contact has no phone number")
        context = {
            "account": envelope.account,
            "contact": contact,
            "segment": envelope.account.get("segment"),
            "first_name": (contact.get("name") or "there").split()[0],
            "params": dict(envelope.payload.get("params") or {}),
        }
        text = sms_text(envelope, context).strip()[:MAX_SEGMENTS_CHARS]
        kwargs: dict[str, Any] = {"to": contact["phone"], "body": text}
        if self.settings.get("messaging_service_sid"):
            kwargs["messaging_service_sid"] = self.settings["messaging_service_sid"]
        else:
            kwargs["from_"] = self.settings["from_number"]
        try:
            message = self.client().messages.create(**kwargs)
        except TwilioRestException as exc:
            raise classify_http(
                exc.status, f"Twilio refused: {exc.msg}", code=str(exc.code)
            ) from exc
        except requests.ConnectionError as exc:  # includes ConnectTimeout: nothing was sent
            raise RetriableError(f"Twilio unreachable: {exc}") from exc
        except requests.Timeout as exc:
            raise FatalError(f"outcome unknown: Twilio did not answer in time ({exc})") from exc
        return Delivery(external_id=message.sid, body=text, detail={"status": message.status})


CHANNELS = (SmsChannel,)
