"""Signature and credential checks shared by the receivers, over the raw request bytes.

Every check is constant-time where a secret is compared, accepts several candidate secrets
(rotation) and several signatures (the sender's rotation), and turns *any* malformed header
into ``WebhookError(401)``: a header can never make a receiver fail with a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable

from stripe import SignatureVerificationError, WebhookSignature


class WebhookError(Exception):
    """A delivery refused: the HTTP status, a stable code and a message for the sender."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def unauthorized(message: str) -> WebhookError:
    return WebhookError(401, "unauthorized", message)


def bad_request(message: str) -> WebhookError:
    return WebhookError(400, "bad_request", message)


def _timestamp_in_window(timestamp: int, now: float, tolerance: int) -> None:
    if abs(now - timestamp) > tolerance:
        raise unauthorized("the signature timestamp is outside the tolerance window")


def stripe_timestamp(header: str) -> int:
    """The ``t=`` of a Stripe-Signature header; ValueError when absent or not an integer."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            return int(value)
    raise ValueError("no timestamp")


def verify_stripe(
    body: bytes, header: str | None, secrets: Iterable[str], now: float, tolerance: int
) -> None:
    """``Stripe-Signature``: ``t=<unix>,v1=<hex>[,v1=...]``, HMAC-SHA256 over ``t.body``.

    The stripe library checks the signatures (any ``v1`` of the header against each candidate
    secret); the window is enforced here in both directions.
    """
    if not header:
        raise unauthorized("the Stripe-Signature header is missing")
    candidates = list(secrets)
    if not candidates:
        raise unauthorized("no Stripe webhook secret is configured")
    try:
        timestamp = stripe_timestamp(header)
        body.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise unauthorized("the Stripe-Signature header cannot be read") from exc
    _timestamp_in_window(timestamp, now, tolerance)
    for secret in candidates:
        try:
            WebhookSignature.verify_header(body, header, secret, tolerance=None)
            return
        except (SignatureVerificationError, ValueError, TypeError, UnicodeError):
            continue
    raise unauthorized("no Stripe signature matches")


def sign_standard(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` Standard Webhooks signature of a delivery."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard(
    body: bytes,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    keys: Iterable[bytes],
    now: float,
    tolerance: int,
) -> None:
    """Standard Webhooks: ``webhook-signature`` is space-separated ``v1,<base64>`` entries,
    each an HMAC-SHA256 over ``id.timestamp.body`` with the decoded ``whsec_`` key."""
    if not msg_id or not timestamp or not signature:
        raise unauthorized("webhook-id, webhook-timestamp and webhook-signature are required")
    candidates = list(keys)
    if not candidates:
        raise unauthorized("no events webhook secret is configured")
    try:
        ts = int(timestamp)
        id_bytes = msg_id.encode("utf-8")
    except (ValueError, UnicodeError) as exc:
        raise unauthorized("the webhook headers cannot be read") from exc
    _timestamp_in_window(ts, now, tolerance)
    given: list[bytes] = []
    for part in signature.split(" "):
        version, _, value = part.partition(",")
        if version != "v1" or not value:
            continue
        try:
            given.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not given:
        raise unauthorized("no v1 signature in webhook-signature")
    signed = id_bytes + b"." + str(ts).encode() + b"." + body
    for key in candidates:
        expected = hmac.new(key, signed, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, sig) for sig in given):
            return
    raise unauthorized("no webhook signature matches")


def verify_basic_auth(header: str | None, pairs: Iterable[tuple[bytes, bytes]]) -> None:
    """HTTP Basic credentials against each configured (user, password) pair."""
    candidates = list(pairs)
    if not candidates:
        raise unauthorized("no webhook credentials are configured")
    if not header:
        raise unauthorized("HTTP Basic credentials are required")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized("HTTP Basic credentials are required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise unauthorized("the Authorization header cannot be read") from exc
    user, sep, password = decoded.partition(b":")
    if not sep:
        raise unauthorized("the Authorization header cannot be read")
    ok = False
    for want_user, want_password in candidates:
        # evaluate both comparisons for every pair: no early exit on the user name
        same = hmac.compare_digest(user, want_user) & hmac.compare_digest(password, want_password)
        ok |= same
    if not ok:
        raise unauthorized("the webhook credentials are wrong")


def same_org(given: str, configured: str) -> bool:
    """Salesforce organization ids compare on their case-sensitive 15-character form."""
    if not given or not configured:
        return False
    return hmac.compare_digest(given.strip()[:15].encode(), configured.strip()[:15].encode())
