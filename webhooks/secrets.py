"""The secrets in force for each receiver, cached briefly per process.

Verification must cost microseconds, not a database read and a Fernet decrypt per request, so
the effective ``webhooks`` settings are loaded at most once every ``TTL_S`` seconds per app. A
save through the admin API clears this process's cache at once; other processes pick the
change up within ``TTL_S``. Secrets rotated out stay valid until their own expiry.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session

from hub.db import db, utcnow
from hub.settings import effective
from webhooks.settings import PREVIOUS, SPEC, decode_whsec, live_previous

log = logging.getLogger(__name__)

TTL_S = 5.0


@dataclass(frozen=True)
class Candidate:
    """One secret that verifies deliveries, until ``expires_at`` (epoch s) if it is rotated out."""

    value: object
    expires_at: float | None = None

    def live(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class Secrets:
    stripe: tuple[Candidate, ...] = ()  # str whsec_... values
    events: tuple[Candidate, ...] = ()  # decoded HMAC keys (bytes)
    mixpanel: tuple[Candidate, ...] = ()  # (user bytes, password bytes)
    salesforce_org_id: str = ""
    loaded_at: float = field(default_factory=time.time)

    def live(self, name: str, now: float | None = None) -> list[object]:
        now = time.time() if now is None else now
        return [c.value for c in getattr(self, name) if c.live(now)]


_cache: weakref.WeakKeyDictionary[Flask, tuple[float, Secrets]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def current(app: Flask) -> Secrets:
    """The app's secrets, from the cache when fresh."""
    now = time.monotonic()
    hit = _cache.get(app)
    if hit is not None and hit[0] > now:
        return hit[1]
    with _lock:
        hit = _cache.get(app)
        if hit is not None and hit[0] > now:
            return hit[1]
        secrets = load(app)
        _cache[app] = (now + TTL_S, secrets)
        return secrets


def _events_key(secret: str) -> bytes | None:
    try:
        return decode_whsec(secret)
    except ValueError:
        log.warning("the events webhook secret is not a valid whsec_ secret; ignoring it")
        return None


def load(app: Flask) -> Secrets:
    """Read the effective settings (stored, else environment) and the secrets in grace."""
    with Session(db.engine) as session:
        values = effective(session, SPEC, app.config["CSHUB"])
    stripe: list[Candidate] = []
    events: list[Candidate] = []
    mixpanel: list[Candidate] = []
    if values.get("stripe_webhook_secret"):
        stripe.append(Candidate(values["stripe_webhook_secret"]))
    if values.get("events_webhook_secret"):
        key = _events_key(values["events_webhook_secret"])
        if key:
            events.append(Candidate(key))
    user, password = values.get("mixpanel_webhook_user"), values.get("mixpanel_webhook_password")
    if user and password:
        mixpanel.append(Candidate((user.encode(), password.encode())))
    for entry in live_previous(values.get(PREVIOUS), utcnow()):
        expires = datetime.fromisoformat(entry["expires_at"]).timestamp()
        key, value = entry.get("key"), entry.get("value")
        if not value:
            continue
        if key == "stripe_webhook_secret":
            stripe.append(Candidate(value, expires))
        elif key == "events_webhook_secret" and (decoded := _events_key(value)):
            events.append(Candidate(decoded, expires))
        elif key == "mixpanel_webhook_password" and entry.get("user"):
            mixpanel.append(Candidate((entry["user"].encode(), value.encode()), expires))
    return Secrets(
        stripe=tuple(stripe),
        events=tuple(events),
        mixpanel=tuple(mixpanel),
        salesforce_org_id=values.get("salesforce_org_id") or "",
    )
