"""Secrets at rest: Fernet encryption keyed by CSHUB_SECRET_KEY, and token hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

PLACEHOLDER = "********"
"""What reads return in place of a secret; writing it back keeps the stored secret."""

_fernet: MultiFernet | None = None


def _as_fernet_key(secret: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(secret.encode())
        if len(raw) == 32:
            return secret.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


def configure(secret_keys: str) -> None:
    """Set the key ring: comma-separated keys, the first encrypts, all decrypt (rotation)."""
    global _fernet
    keys = [k.strip() for k in secret_keys.split(",") if k.strip()]
    _fernet = MultiFernet([Fernet(_as_fernet_key(k)) for k in keys])


def encrypt(plaintext: str) -> str:
    if _fernet is None:
        raise RuntimeError("crypto not configured: create_app() sets the key")
    return _fernet.encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if _fernet is None:
        raise RuntimeError("crypto not configured: create_app() sets the key")
    try:
        return _fernet.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("stored secret cannot be decrypted with CSHUB_SECRET_KEY") from exc


class EncryptedJSON(TypeDecorator[dict]):
    """A JSON document stored as one Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict | None, dialect) -> str | None:
        return None if value is None else encrypt(json.dumps(value, sort_keys=True))

    def process_result_value(self, value: str | None, dialect) -> dict | None:
        return None if value is None else json.loads(decrypt(value))


def new_token(prefix: str = "csh") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    """SHA-256 of a high-entropy bearer token (salting adds nothing at 256 bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def merge_secrets(old: dict[str, Any] | None, new: dict[str, Any], secret_keys: set[str]) -> dict:
    """Apply an update where a secret given as PLACEHOLDER (or omitted) keeps its old value."""
    merged = dict(new)
    for key in secret_keys:
        if merged.get(key) in (None, PLACEHOLDER) and old and key in old:
            merged[key] = old[key]
    return merged


def mask_secrets(settings: dict[str, Any] | None, secret_keys: set[str]) -> dict[str, Any]:
    return {k: (PLACEHOLDER if k in secret_keys and v else v) for k, v in (settings or {}).items()}
