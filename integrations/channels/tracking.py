"""Signed links the hub serves publicly: open pixel, click redirect, one-click unsubscribe.

Tokens are itsdangerous-signed with the hub's secret key (a separate salt per purpose), so a
link cannot be forged or pointed at another message or URL. The endpoints live in
``hub.api.tracking``; this module only makes and reads tokens, so channels and the API agree.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

OPEN, CLICK, UNSUBSCRIBE = "open", "click", "unsubscribe"
PATHS = {OPEN: "/t/o/{token}.gif", CLICK: "/t/c/{token}", UNSUBSCRIBE: "/t/u/{token}"}


class InvalidToken(ValueError):
    """A tracking token that was tampered with or made with another key."""


def _serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"cshub.tracking.{purpose}")


def make_token(secret_key: str, purpose: str, data: dict[str, Any]) -> str:
    return _serializer(secret_key, purpose).dumps(data)


def read_token(secret_key: str, purpose: str, token: str) -> dict[str, Any]:
    try:
        data = _serializer(secret_key, purpose).loads(token)
    except BadSignature as exc:
        raise InvalidToken("the link is not valid") from exc
    if not isinstance(data, dict):
        raise InvalidToken("the link is not valid")
    return data


def url(base_url: str, secret_key: str, purpose: str, data: dict[str, Any]) -> str:
    """The public URL for ``purpose`` carrying ``data``."""
    token = make_token(secret_key, purpose, data)
    return base_url.rstrip("/") + PATHS[purpose].format(token=token)


class Links:
    """The tracking links of one message."""

    def __init__(self, base_url: str, secret_key: str, message_id: int, contact_id: int | None):
        self.base_url, self.secret_key = base_url, secret_key
        self.message_id, self.contact_id = message_id, contact_id

    @property
    def pixel(self) -> str:
        return url(self.base_url, self.secret_key, OPEN, {"m": self.message_id})

    def click(self, target: str) -> str:
        return url(self.base_url, self.secret_key, CLICK, {"m": self.message_id, "u": target})

    def unsubscribe(self, channel: str) -> str:
        data = {"m": self.message_id, "c": self.contact_id, "ch": channel}
        return url(self.base_url, self.secret_key, UNSUBSCRIBE, data)
