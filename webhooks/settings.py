"""The ``webhooks`` integration: the secrets each receiver verifies with, and their rotation.

Configured through ``PUT /api/integrations/webhooks`` (stored encrypted, write-only) or, on a
first start, from ``STRIPE_WEBHOOK_SECRET``, ``CSHUB_EVENTS_WEBHOOK_SECRET``,
``MIXPANEL_WEBHOOK_USER``/``MIXPANEL_WEBHOOK_PASSWORD`` and ``SALESFORCE_ORG_ID``.

Rotation: when a save replaces a secret, the secret it replaces is kept under ``previous``
(encrypted with the others, never returned) with an expiry ``Config.secret_grace_s`` ahead, so
deliveries signed with the old secret keep verifying while the sender switches over.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError, fields, validates

from hub.api.common import StrictSchema
from hub.config import Config
from hub.crypto import PLACEHOLDER
from hub.db import utcnow
from hub.settings import IntegrationSpec, register

NAME = "webhooks"
PREVIOUS = "previous"
ROTATING = ("stripe_webhook_secret", "events_webhook_secret", "mixpanel_webhook_password")
"""Keys whose old value stays valid for the grace period after a change."""

ORG_ID = re.compile(r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")


def decode_whsec(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64); ValueError if bad."""
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a whsec_<base64> secret") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("a whsec_ key must decode to 24-64 bytes")
    return key


class WebhookSecretsSchema(StrictSchema):
    stripe_webhook_secret = fields.Str(metadata={"secret": True})
    events_webhook_secret = fields.Str(metadata={"secret": True})
    mixpanel_webhook_user = fields.Str(metadata={"secret": True})
    mixpanel_webhook_password = fields.Str(metadata={"secret": True})
    salesforce_org_id = fields.Str()

    @validates("stripe_webhook_secret")
    def _stripe(self, value: str, **_kw: Any) -> None:
        if value not in ("", PLACEHOLDER) and not value.startswith("whsec_"):
            raise ValidationError("a Stripe endpoint secret starts with whsec_")

    @validates("events_webhook_secret")
    def _events(self, value: str, **_kw: Any) -> None:
        if value in ("", PLACEHOLDER):
            return
        try:
            decode_whsec(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    @validates("salesforce_org_id")
    def _org(self, value: str, **_kw: Any) -> None:
        if value and not ORG_ID.match(value):
            raise ValidationError("a Salesforce organization id is 15 or 18 characters, 00D...")


def from_config(config: Config) -> dict[str, Any]:
    return {
        "stripe_webhook_secret": config.stripe_webhook_secret,
        "events_webhook_secret": config.events_webhook_secret,
        "mixpanel_webhook_user": config.mixpanel_webhook_user,
        "mixpanel_webhook_password": config.mixpanel_webhook_password,
        "salesforce_org_id": config.salesforce_org_id,
    }


def live_previous(entries: Any, now: datetime) -> list[dict[str, Any]]:
    """The rotated-out secrets whose grace period has not ended."""
    out = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            expires = datetime.fromisoformat(entry["expires_at"])
        except (KeyError, TypeError, ValueError):
            continue
        if expires > now:
            out.append(entry)
    return out


def rotate(before: dict[str, Any], secrets: dict[str, Any], config: Config) -> dict[str, Any]:
    """``on_save``: keep each replaced secret valid for ``config.secret_grace_s``."""
    now = utcnow()
    expires = (now + timedelta(seconds=config.secret_grace_s)).isoformat()
    previous = live_previous(before.get(PREVIOUS), now)
    for key in ROTATING:
        old, new = before.get(key), secrets.get(key)
        if old and old != new:
            entry: dict[str, Any] = {"key": key, "value": old, "expires_at": expires}
            if key == "mixpanel_webhook_password":
                entry["user"] = before.get("mixpanel_webhook_user", "")
            previous.append(entry)
    old_user = before.get("mixpanel_webhook_user")
    password = before.get("mixpanel_webhook_password")
    user_changed = old_user and secrets.get("mixpanel_webhook_user") != old_user
    if user_changed and password and secrets.get("mixpanel_webhook_password") == password:
        # the user changed but not the password: the old pair stays valid for the grace period
        previous.append(
            {
                "key": "mixpanel_webhook_password",
                "user": old_user,
                "value": password,
                "expires_at": expires,
            }
        )
    out = dict(secrets)
    out[PREVIOUS] = previous
    from webhooks.secrets import clear_cache

    clear_cache()
    return out


def check(values: dict[str, Any]) -> dict[str, Any]:
    """Which receivers can verify deliveries with the settings in force."""
    events = values.get("events_webhook_secret")
    if events:
        decode_whsec(events)
    return {
        "stripe": bool(values.get("stripe_webhook_secret")),
        "events": bool(events),
        "mixpanel": bool(values.get("mixpanel_webhook_user"))
        and bool(values.get("mixpanel_webhook_password")),
        "salesforce": bool(values.get("salesforce_org_id")),
        "secrets_in_grace": len(live_previous(values.get(PREVIOUS), utcnow())),
    }


SPEC = register(
    IntegrationSpec(
        name=NAME,
        schema=WebhookSecretsSchema,
        secret_keys=frozenset(
            {
                "stripe_webhook_secret",
                "events_webhook_secret",
                "mixpanel_webhook_user",
                "mixpanel_webhook_password",
                PREVIOUS,
            }
        ),
        from_config=from_config,
        check=check,
        on_save=rotate,
        description="Secrets the inbound webhook receivers verify deliveries with",
    )
)
