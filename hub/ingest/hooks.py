"""A tiny registry through which other capabilities react to processed webhook events.

Subscribe a function to a source and event type (``"*"`` for every type of a source)::

    from hub.ingest import hooks

    @hooks.on("stripe", "invoice.paid")
    def grant_referral_reward(ctx: hooks.HookContext) -> None:
        ...

or ``hooks.subscribe("stripe", "charge.dispute.created", fn)``. A module that subscribes at
import time appends its dotted name to ``HOOK_MODULES`` so every worker imports it before
the first event is processed. Types a hook subscribes to are no longer "unknown": such events
are processed instead of being marked ignored.

A hook runs inside the processing transaction, after the built-in mapping: its writes through
``ctx.session`` commit together with the inbox row's ``processed`` status, so they happen
exactly once in effect; if it raises, everything rolls back and the row is retried. Work for
after the commit (outside calls, other jobs) goes through ``ctx.enqueue_after_commit``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from sqlalchemy.orm import Session

from hub.models import Account


@dataclass(frozen=True)
class FollowUp:
    """A job to enqueue once the processing transaction has committed."""

    func: str  # dotted path of a job function, e.g. "jobs.sync.salesforce_pull_records"
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class HookContext:
    """What a hook sees: the open session, the event and the account it concerns."""

    session: Session
    source: str  # stripe, mixpanel, salesforce, events
    event_type: str
    event: dict[str, Any]  # the Stripe event, the product event, the cohort message, ...
    inbox_id: int
    external_id: str
    account: Account | None = None
    followups: list[FollowUp] = field(default_factory=list)

    def enqueue_after_commit(self, func: str, *args: Any, **kwargs: Any) -> None:
        self.followups.append(FollowUp(func, args, kwargs))


Hook = Callable[[HookContext], None]

HOOK_MODULES: list[str] = [
    "hub.growth.hooks",
]
"""Modules that subscribe hooks when imported; a capability appends its module here."""

_subscribers: dict[tuple[str, str], list[Hook]] = defaultdict(list)
_loaded: set[str] = set()


def _load() -> None:
    for name in HOOK_MODULES:
        if name not in _loaded:
            import_module(name)
            _loaded.add(name)


def subscribe(source: str, event_type: str, fn: Hook) -> Hook:
    """Call ``fn(ctx)`` for every processed ``source`` event of ``event_type`` (or ``"*"``)."""
    hooks = _subscribers[(source, event_type)]
    if fn not in hooks:
        hooks.append(fn)
    return fn


def unsubscribe(source: str, event_type: str, fn: Hook) -> None:
    hooks = _subscribers.get((source, event_type), [])
    if fn in hooks:
        hooks.remove(fn)


def on(source: str, event_type: str) -> Callable[[Hook], Hook]:
    """Decorator form of ``subscribe``."""

    def decorate(fn: Hook) -> Hook:
        return subscribe(source, event_type, fn)

    return decorate


def subscribers(source: str, event_type: str) -> list[Hook]:
    _load()
    return [*_subscribers.get((source, event_type), []), *_subscribers.get((source, "*"), [])]


def publish(ctx: HookContext) -> int:
    """Run every hook for the context's event; exceptions propagate (the row is retried)."""
    hooks = subscribers(ctx.source, ctx.event_type)
    for fn in hooks:
        fn(ctx)
    return len(hooks)
