"""Fault test: a worker SIGKILLed mid-job and Redis flushed lose nothing and double nothing;
the sweeper brings every accepted event to processed exactly once."""

from __future__ import annotations

import time

import orjson
import pytest
import requests
from sqlalchemy import func, select

from hub.models import Account, AuditLog, InboxEvent, SubscriptionChange
from jobs.base import enqueue, set_app
from jobs.inbox import sweep
from tests.e2e.webhook_stack import (
    kill_hard,
    stack_env,
    start_web,
    start_worker,
    stop,
    tail,
    wait_until,
)
from tests.webhooks.helpers import stripe_headers
from tests.webhooks.payloads import NOW, stripe_event, subscription

pytestmark = pytest.mark.e2e

ACCOUNTS = 12


def _statuses(session) -> dict[str, int]:
    session.expire_all()
    rows = session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))
    return dict(rows.all())


def _post(base: str, n: int) -> None:
    event = stripe_event(
        f"evt_fault_{n}",
        "customer.subscription.created",
        subscription(f"sub_F{n}", f"cus_F{n % ACCOUNTS}"),
        NOW - 100 + n,
    )
    body = orjson.dumps(event)
    response = requests.post(
        f"{base}/webhooks/stripe", data=body, headers=stripe_headers(body), timeout=10
    )
    assert response.status_code == 200, response.text


def test_killed_worker_and_flushed_redis_lose_and_double_nothing(app, config, session):
    from hub.queue import queues

    session.add_all(
        [Account(name=f"Fault {i}", stripe_customer_id=f"cus_F{i}") for i in range(ACCOUNTS)]
    )
    session.commit()
    env = stack_env(config, CSHUB_INBOX_STALE="1", CSHUB_INBOX_LEASE="3")
    web, base = start_web(env)
    worker = start_worker(env, probe_delay=0.4)  # each event takes ~0.4 s in its hook
    try:
        for n in range(20):
            _post(base, n)

        # 1. wait until a job is mid-way (its row claimed, its transaction open), then kill
        wait_until(
            lambda: (
                _statuses(session).get("processing", 0) >= 1
                and _statuses(session).get("processed", 0) >= 2
            ),
            60,
            lambda: f"the worker never got going: {tail(env, 'worker')}",
        )
        assert kill_hard(worker), "no work horse was running"
        killed_at = _statuses(session)
        assert killed_at.get("processing", 0) == 1  # one job died mid-way
        assert killed_at.get("pending", 0) >= 1  # and others never ran

        # 2. lose every queued job and everything RQ knew
        queues.redis.flushdb()

        # 3. deliveries keep arriving while no worker runs
        for n in range(20, 25):
            _post(base, n)

        # 4. a new worker; the sweeper (as the scheduler would run it) recovers the rest
        worker = start_worker(env, probe_delay=0.0)
        set_app(app)

        last_sweep = [0.0]

        def swept_all() -> bool:
            if _statuses(session).get("processed", 0) == 25:
                return True
            if time.monotonic() - last_sweep[0] > 1:  # the cron entry runs it every minute
                enqueue(sweep)
                last_sweep[0] = time.monotonic()
            return False

        wait_until(swept_all, 90, lambda: f"not all processed: {_statuses(session)}")
    finally:
        stop(worker)
        stop(web)

    rows = session.scalars(select(InboxEvent)).all()
    assert len(rows) == 25 and {r.status for r in rows} == {"processed"}
    assert any(r.attempts >= 2 for r in rows)  # the killed job's row was taken back
    applied = session.execute(
        select(AuditLog.target, func.count())
        .where(AuditLog.actor == "probe")
        .group_by(AuditLog.target)
    ).all()
    assert len(applied) == 25 and {count for _, count in applied} == {1}  # exactly once each
    kinds = [c.kind for c in session.scalars(select(SubscriptionChange))]
    assert kinds.count("new") == ACCOUNTS and kinds.count("expansion") == 25 - ACCOUNTS
    mrr = sorted(a.mrr for a in session.scalars(select(Account)))
    subscriptions_per_account = [
        len([n for n in range(25) if n % ACCOUNTS == i]) for i in range(ACCOUNTS)
    ]
    assert mrr == sorted(149.0 * k for k in subscriptions_per_account)
