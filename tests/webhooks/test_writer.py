"""Group commit: deliveries arriving together share a write; each still gets its own answer."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from hub.models import InboxEvent
from hub.queue import queues
from webhooks.inbox import store
from webhooks.writer import GroupCommit


def test_threads_arriving_together_share_batches_and_get_their_own_results():
    batches: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        batches.append(items)
        time.sleep(0.005)  # a write long enough for others to queue behind it
        return [i * 10 for i in items]

    group = GroupCommit(write)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(group.submit, range(200)))

    assert results == [i * 10 for i in range(200)]
    assert sorted(i for batch in batches for i in batch) == list(range(200))
    assert len(batches) < 200  # at least one batch held more than one item
    assert max(len(b) for b in batches) > 1


def test_a_failed_write_fails_every_delivery_of_its_batch_and_not_the_next():
    gate = threading.Event()
    calls: list[list[str]] = []

    def write(items: list[str]) -> list[str]:
        calls.append(items)
        if items == ["first"]:
            gate.wait(5)  # hold the first batch until the others are queued
            return ["ok"]
        if "bad" in items:
            raise RuntimeError("database unavailable")
        return ["ok"] * len(items)

    group = GroupCommit(write)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(group.submit, "first")
        while not calls:
            time.sleep(0.001)
        queued = [pool.submit(group.submit, x) for x in ("bad", "also-in-batch")]
        time.sleep(0.05)
        gate.set()
        assert first.result() == "ok"
        for future in queued:
            with pytest.raises(RuntimeError, match="database unavailable"):
                future.result()
    assert calls[1] == ["bad", "also-in-batch"]
    assert group.submit("later") == "ok"  # the group is not stuck after a failure


def test_concurrent_deliveries_of_one_event_store_one_row_and_enqueue_one_job(app):
    def deliver(n: int):
        with app.app_context():
            key = "evt_same" if n % 2 else f"evt_{n}"
            return store("stripe", key, "invoice.paid", {"Content-Type": "x"}, b"{}")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(deliver, range(40)))

    same = [r for n, r in enumerate(results) if n % 2]
    assert sum(not r.duplicate for r in same) == 1
    assert all(r.inbox_id is None and not r.enqueued for r in same if r.duplicate)
    others = [r for n, r in enumerate(results) if not n % 2]
    assert all(not r.duplicate and r.enqueued and r.inbox_id for r in others)
    with app.app_context():
        from hub.db import db

        assert db.session.scalar(select(func.count()).select_from(InboxEvent)) == 21
        stored_ids = sorted(db.session.scalars(select(InboxEvent.id)))
    job_args = [i for job in queues["high"].jobs for i in job.args]
    assert sorted(job_args) == stored_ids  # each stored delivery in exactly one job
