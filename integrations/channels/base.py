"""The one interface every channel adapter implements.

A channel delivers one outbox message (an ``Envelope``) to one outside system and answers a
``Delivery`` (the provider's id) or raises a classified error from ``integrations.errors``:

- ``RetriableError``: the outbox retries with backoff (timeouts, 429, 5xx, SMTP 4xx).
- ``FatalError``: the message is marked failed (bad address, bad credentials, 4xx).
- ``SkippableError``: nothing to deliver to (no e-mail address, no phone): suppressed.

Adapters are self-describing (Redash destinations style): ``name``, ``title``, the
``IntegrationSpec`` holding their settings, the modules they need importable, whether they
reach a customer (quiet hours, unsubscribe and frequency caps apply) or the team, and whether
the provider deduplicates by our idempotency key (then a send interrupted mid-flight may be
retried safely; otherwise the outbox never retries it: at most once).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

CUSTOMER = "customer"
TEAM = "team"


@dataclass(frozen=True)
class ChannelContext:
    """What every adapter may need besides its own settings."""

    base_url: str  # the hub's public URL, for tracking and unsubscribe links
    secret_key: str  # signs tracking links
    ca_bundle: str = ""  # REQUESTS_CA_BUNDLE
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Envelope:
    """One message to deliver, as the outbox hands it to a channel."""

    message_id: int
    idempotency_key: str
    channel: str
    account: dict[str, Any]  # id, name, segment, plan, salesforce_id, owner_email, ...
    contact: dict[str, Any] | None  # id, email, name, phone, slack_user_id, timezone, ...
    template: str | None = None
    subject: str | None = None
    body: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """What the provider answered: its id for the message and what was actually sent."""

    external_id: str | None = None
    subject: str | None = None
    body: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Channel:
    """Base class of the adapters; subclasses set the class attributes and ``send``."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    audience: ClassVar[str] = CUSTOMER
    spec: ClassVar[str | None] = None  # name of the IntegrationSpec with the settings
    requires: ClassVar[tuple[str, ...]] = ()  # modules that must be importable
    required_settings: ClassVar[tuple[str, ...]] = ()
    idempotent_delivery: ClassVar[bool] = False

    def __init__(self, settings: dict[str, Any], context: ChannelContext) -> None:
        self.settings = dict(settings)
        self.context = context

    @classmethod
    def missing_dependency(cls) -> str | None:
        """Why the adapter cannot run here (a module missing), or None."""
        for module in cls.requires:
            if importlib.util.find_spec(module) is None:
                return f"python package providing '{module}' is not installed"
        return None

    @classmethod
    def unconfigured(cls, settings: dict[str, Any]) -> str | None:
        """Why the adapter is not configured with ``settings``, or None when it is."""
        missing = [key for key in cls.required_settings if not settings.get(key)]
        if missing:
            return f"not configured: {', '.join(missing)} unset"
        return None

    @contextmanager
    def open(self) -> Iterator[Channel]:
        """A delivery session (one SMTP connection for a batch, say); default: nothing."""
        yield self

    def send(self, envelope: Envelope) -> Delivery:  # pragma: no cover - abstract
        raise NotImplementedError
