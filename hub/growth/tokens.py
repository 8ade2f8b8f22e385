"""Signed, expiring tokens for public one-click links (itsdangerous). Tampering is refused."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class InvalidToken(Exception):
    """The token was altered, made for another purpose, or is not a token at all."""


class ExpiredToken(InvalidToken):
    """The token is genuine but older than allowed."""


def _serializer(purpose: str, secret: str | None = None) -> URLSafeTimedSerializer:
    key = secret or current_app.config["SECRET_KEY"]
    return URLSafeTimedSerializer(key, salt=f"cshub.{purpose}")


def sign(purpose: str, payload: dict[str, Any], secret: str | None = None) -> str:
    return _serializer(purpose, secret).dumps(payload)


def unsign(
    purpose: str, token: str, max_age: int | None = None, secret: str | None = None
) -> dict[str, Any]:
    """The payload of a genuine token; ``InvalidToken``/``ExpiredToken`` otherwise."""
    try:
        payload = _serializer(purpose, secret).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ExpiredToken("the link has expired") from exc
    except BadSignature as exc:
        raise InvalidToken("the link is not valid") from exc
    if not isinstance(payload, dict):
        raise InvalidToken("the link is not valid")
    return payload
