"""What every receiver provides, and the JSON answers most of them give."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from hub.config import Config
from webhooks.inbox import Stored
from webhooks.secrets import Secrets
from webhooks.verify import WebhookError, bad_request


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a delivery, written straight to WSGI by ``webhooks.ingress``."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Delivery:
    """A verified delivery: its idempotency key at the sender and its type."""

    external_id: str
    event_type: str | None
    action: str | None = None  # echoed by receivers whose sender expects it (Mixpanel)


class Receiver(Protocol):
    source: str

    def accept(
        self, body: bytes, headers: Any, secrets: Secrets, config: Config, now: float
    ) -> Delivery:
        """Verify and read the delivery; raise WebhookError to refuse it (nothing stored)."""
        ...

    def success(self, delivery: Delivery, stored: Stored) -> Reply: ...

    def failure(self, error: WebhookError, body: bytes) -> Reply: ...


def json_response(doc: Any, status: int = 200) -> Reply:
    return Reply(status, orjson.dumps(doc))


def json_failure(error: WebhookError) -> Reply:
    return json_response({"error": {"code": error.code, "message": error.message}}, error.status)


def json_success(stored: Stored) -> Reply:
    return json_response({"received": True, "duplicate": stored.duplicate})


def parse_json(body: bytes) -> Any:
    """The body as JSON, or a 400."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request("the body is not valid JSON") from exc


def text_field(doc: dict[str, Any], name: str, max_len: int = 255) -> str:
    """A required non-empty string member of ``doc``, or a 400."""
    value = doc.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise bad_request(f"the body needs a string {name!r} (1-{max_len} characters)")
    return value
