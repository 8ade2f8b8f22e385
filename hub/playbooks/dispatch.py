"""Deliver due outbox messages through their channels, at most once each.

The claim protocol (safe with any number of dispatchers, and across a worker killed at any
instant):

1. *Reserve* a batch: ``UPDATE outbox SET claim_token=T, claimed_at=now WHERE id IN (...)
   AND status='pending' AND (claim_token IS NULL OR claimed_at < now - lease)``; commit. The
   rows stay ``pending``: a reservation left by a dead dispatcher simply expires.
2. For each reserved row, *start* it: ``UPDATE ... SET status='sending', attempts=attempts+1
   WHERE id=:id AND claim_token=T AND status='pending'``; commit. Only one dispatcher can win.
3. Call the channel; then record ``sent`` (or the retry/failure) and commit.

A row found in ``sending`` after the lease has expired was interrupted between steps 2 and 3:
nobody knows whether the provider got it. For a channel that does not deduplicate on our
idempotency key (e-mail, SMS, Slack), we choose **at most once**: the row is marked ``failed``
with an "outcome unknown" error and is never retried automatically; an admin can re-send it
from the API. Channels whose provider deduplicates on the key (Salesforce work items, in-app,
webhooks carrying ``webhook-id``) are safely put back to ``pending``.

Messages go out on ``concurrency`` sending threads, each with its own channel adapters (one
SMTP connection per thread), so a slow provider round trip does not serialise a batch.

Retriable errors are retried with backoff (``BACKOFF_S``) up to ``MAX_ATTEMPTS``; a disabled
channel (not configured) leaves its messages pending, visible with the reason.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub.config import Config
from hub.db import utcnow
from hub.models import Account, Contact, OutboxMessage
from hub.playbooks.guards import GuardSettings, quiet_until, unsubscribed, zone
from integrations import channels as registry
from integrations.channels.base import CUSTOMER, Channel, ChannelContext, Envelope
from integrations.errors import FatalError, RetriableError, SkippableError

log = logging.getLogger(__name__)

BACKOFF_S = (60, 300, 1800, 7200, 21600)
MAX_ATTEMPTS = len(BACKOFF_S) + 1
LEASE = timedelta(minutes=10)
DISABLED_RECHECK = timedelta(minutes=15)
UNKNOWN_OUTCOME = (
    "outcome unknown: the dispatcher stopped while sending; not retried automatically "
    "(at-most-once delivery), re-send it if it did not arrive"
)


@dataclass
class DispatchReport:
    reserved: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
    waiting_for_channel: int = 0
    lost_race: int = 0
    recovered: int = 0
    unknown_outcome: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """Delay before attempt ``attempts + 1`` (the provider's Retry-After wins if longer)."""
    base = BACKOFF_S[min(max(attempts, 1), len(BACKOFF_S)) - 1]
    return timedelta(seconds=max(base, retry_after or 0))


class Dispatcher:
    """One dispatch run: channels are built once and their connections reused."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        guards: GuardSettings,
        now: datetime | None = None,
        batch_size: int = 100,
        concurrency: int = 4,
    ) -> None:
        self.engine = engine
        self.config = config
        self.guards = guards
        self.now = now or utcnow()
        self.batch_size = batch_size
        self.concurrency = max(1, concurrency)
        self.token = uuid.uuid4().hex
        self.report = DispatchReport()
        self._lock = threading.Lock()
        self._local = threading.local()  # each sending thread has its own adapters
        self._stacks: list[ExitStack] = []

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.report, name, getattr(self.report, name) + n)

    @property
    def _channels(self) -> dict[str, Channel | str]:
        """This thread's adapters (one SMTP connection per thread), or why disabled."""
        if not hasattr(self._local, "channels"):
            self._local.channels = {}
            self._local.stack = ExitStack()
            with self._lock:
                self._stacks.append(self._local.stack)
        return self._local.channels

    # -- channels ---------------------------------------------------------------------------
    def _settings(self, session: Session, spec_name: str | None) -> dict[str, Any]:
        from hub.settings import effective, get_spec

        if not spec_name:
            return {}
        spec = get_spec(spec_name)
        return effective(session, spec, self.config) if spec else {}

    def channel(self, session: Session, name: str) -> Channel | str:
        """The open adapter for ``name``, or the reason it cannot send."""
        if name not in self._channels:
            try:
                cls = registry.get(name)
            except KeyError as exc:
                self._channels[name] = str(exc)
                return self._channels[name]
            settings = self._settings(session, cls.spec)
            enabled, reason = registry.status(cls, settings)
            if not enabled:
                self._channels[name] = f"channel {name} disabled: {reason}"
            else:
                context = ChannelContext(
                    base_url=self.config.base_url,
                    secret_key=self.config.effective_secret_key,
                    ca_bundle=self.config.requests_ca_bundle,
                )
                adapter = cls(settings, context)
                self._channels[name] = self._local.stack.enter_context(adapter.open())
        return self._channels[name]

    # -- the run -----------------------------------------------------------------------------
    def run(self, max_messages: int | None = None) -> DispatchReport:
        """Deliver due messages with ``concurrency`` sending threads until none is due."""
        try:
            self.recover_stale()
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="dispatch") as pool:
                while max_messages is None or self.report.reserved < max_messages:
                    size = self.batch_size
                    if max_messages is not None:
                        size = min(size, max_messages - self.report.reserved)
                    ids = self.reserve(size)
                    if not ids:
                        break
                    if self.concurrency == 1:
                        for message_id in ids:
                            self.deliver(message_id)
                    else:
                        list(pool.map(self.deliver, ids))
        finally:
            for stack in self._stacks:
                stack.close()
        return self.report

    def recover_stale(self) -> None:
        """Settle rows left in ``sending`` by a dispatcher that died (see module docs)."""
        cutoff = self.now - LEASE
        with Session(self.engine) as session, session.begin():
            stale = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.status == "sending", OutboxMessage.claimed_at < cutoff
                )
            ).all()
            for row in stale:
                cls = _channel_class(row.channel)
                row.claim_token = None
                if cls is not None and cls.idempotent_delivery:
                    row.status = "pending"
                    row.due_at = self.now
                    self._count("recovered")
                else:
                    row.status = "failed"
                    row.last_error = UNKNOWN_OUTCOME
                    self._count("unknown_outcome")

    def reserve(self, size: int) -> list[int]:
        """Reserve up to ``size`` due messages for this run (step 1)."""
        lease_cutoff = self.now - LEASE
        free = or_(OutboxMessage.claim_token.is_(None), OutboxMessage.claimed_at < lease_cutoff)
        due = and_(OutboxMessage.status == "pending", OutboxMessage.due_at <= self.now, free)
        with Session(self.engine) as session, session.begin():
            candidates = session.scalars(
                select(OutboxMessage.id)
                .where(due)
                .order_by(OutboxMessage.due_at, OutboxMessage.id)
                .limit(size)
            ).all()
            if not candidates:
                return []
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(candidates), due)
                .values(claim_token=self.token, claimed_at=self.now)
                .execution_options(synchronize_session=False)
            )
            ids = session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.id.in_(candidates), OutboxMessage.claim_token == self.token)
                .order_by(OutboxMessage.due_at, OutboxMessage.id)
            ).all()
        self._count("reserved", len(ids))
        return list(ids)

    def deliver(self, message_id: int) -> None:
        """Guards, start (step 2), send, record (step 3) for one reserved message."""
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(OutboxMessage, message_id)
            if row is None or row.claim_token != self.token or row.status != "pending":
                self._count("lost_race")
                return
            account = session.get(Account, row.account_id) if row.account_id else None
            contact = session.get(Contact, row.contact_id) if row.contact_id else None
            adapter = self.channel(session, row.channel)
            if isinstance(adapter, str):
                self._release(session, row, adapter, self.now + DISABLED_RECHECK)
                self._count("waiting_for_channel")
                return
            if adapter.audience == CUSTOMER and contact is not None:
                if unsubscribed(contact.unsubscribed, row.channel):
                    self._finish(session, row, "suppressed", f"contact unsubscribed: {row.channel}")
                    self._count("suppressed")
                    return
                if self.guards.quiet_hours and row.channel in self.guards.quiet_hours.channels:
                    tz = zone(contact.timezone, account.timezone if account else None)
                    until = quiet_until(self.now, tz, self.guards.quiet_hours)
                    if until is not None:
                        self._release(session, row, None, until)
                        self._count("deferred")
                        return
            started = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row.id,
                    OutboxMessage.claim_token == self.token,
                    OutboxMessage.status == "pending",
                )
                .values(status="sending", attempts=OutboxMessage.attempts + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            session.commit()
            if started != 1:
                self._count("lost_race")
                return
            session.refresh(row)
            envelope = _envelope(row, account, contact)
            try:
                delivery = adapter.send(envelope)
            except RetriableError as exc:
                self._retry(session, row, exc)
                return
            except SkippableError as exc:
                self._finish(session, row, "suppressed", str(exc))
                self._count("suppressed")
                return
            except FatalError as exc:
                self._finish(session, row, "failed", str(exc))
                self._count("failed")
                return
            row.status = "sent"
            row.sent_at = self.now
            row.external_id = delivery.external_id
            row.subject = delivery.subject or row.subject
            row.body = delivery.body or row.body
            row.last_error = None
            row.claim_token = None
            session.commit()
            self._count("sent")

    def _release(self, session: Session, row: OutboxMessage, why: str | None, until) -> None:
        row.claim_token = None
        row.claimed_at = None
        row.due_at = until
        if why:
            row.last_error = why
        session.commit()

    def _finish(self, session: Session, row: OutboxMessage, status: str, why: str) -> None:
        row.status = status
        row.last_error = why[:2000]
        row.claim_token = None
        session.commit()

    def _retry(self, session: Session, row: OutboxMessage, exc: RetriableError) -> None:
        if row.attempts >= MAX_ATTEMPTS:
            self._finish(session, row, "failed", f"gave up after {row.attempts} attempts: {exc}")
            self._count("failed")
            return
        row.status = "pending"
        row.claim_token = None
        row.claimed_at = None
        row.due_at = self.now + backoff(row.attempts, exc.retry_after)
        row.last_error = str(exc)[:2000]
        session.commit()
        self._count("retrying")


def _channel_class(name: str) -> type[Channel] | None:
    try:
        return registry.get(name)
    except KeyError:
        return None


def _envelope(row: OutboxMessage, account: Account | None, contact: Contact | None) -> Envelope:
    return Envelope(
        message_id=row.id,
        idempotency_key=row.idempotency_key,
        channel=row.channel,
        account=account_facts(account),
        contact=contact_facts(contact),
        template=row.template,
        subject=row.subject,
        body=row.body,
        payload=dict(row.payload or {}),
    )


def account_facts(account: Account | None) -> dict[str, Any]:
    """The account fields a template or adapter may use."""
    if account is None:
        return {}
    return {
        "id": account.id,
        "name": account.name,
        "segment": account.segment,
        "plan": account.plan,
        "mrr": account.mrr,
        "salesforce_id": account.salesforce_id,
        "owner_email": account.owner_email,
        "owner_salesforce_id": account.owner_salesforce_id,
        "lifecycle_stage": account.lifecycle_stage,
        "renewal_date": account.renewal_date.isoformat() if account.renewal_date else None,
        "timezone": account.timezone,
        "attributes": dict(account.attributes or {}),
    }


def contact_facts(contact: Contact | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {
        "id": contact.id,
        "email": contact.email,
        "name": contact.name,
        "phone": contact.phone,
        "role": contact.role,
        "timezone": contact.timezone,
        "slack_user_id": contact.slack_user_id,
        "salesforce_id": contact.salesforce_id,
        "attributes": dict(contact.attributes or {}),
    }


def dispatch_due(
    engine: Engine,
    config: Config,
    guards: GuardSettings,
    now: datetime | None = None,
    max_messages: int | None = None,
    batch_size: int = 100,
    concurrency: int = 4,
) -> DispatchReport:
    """Deliver every due message (up to ``max_messages``); see the module docs."""
    return Dispatcher(
        engine, config, guards, now=now, batch_size=batch_size, concurrency=concurrency
    ).run(max_messages)
