"""The shared export rate limiter: 3 queries a second, 60 an hour, pauses after a 429."""

from __future__ import annotations

import pytest
from redis import Redis

from integrations.errors import RetriableError
from integrations.mixpanel.limiter import EXPORT_LIMITS, RateLimiter, export_limiter
from tests.integrations.mixpanel.conftest import NoSleep


@pytest.fixture
def redis(redis_url):
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(params=["redis", "local"])
def make(request, redis):
    """Build limiters on Redis (shared by instances) or in process."""

    def build(limits, clock, **kw):
        return RateLimiter(
            redis if request.param == "redis" else None,
            "t",
            limits,
            clock=clock.time,
            sleep=clock,
            **kw,
        )

    return build


def test_export_limits_are_mixpanels():
    """The export limiter uses Mixpanel's documented limits: 3/s and 60/hour."""
    assert set(EXPORT_LIMITS) == {(1.0, 3), (3600.0, 60)}
    assert export_limiter(None, "42").name == "mixpanel-export:42"


def test_fourth_query_in_a_second_waits(make):
    """Three queries go at once; the fourth waits until the first leaves the 1 s window."""
    clock = NoSleep()
    limiter = make([(1, 3), (3600, 60)], clock)
    for _ in range(3):
        limiter.acquire()
    assert clock.delays == []
    limiter.acquire()
    assert len(clock.delays) == 1 and 0.99 <= clock.delays[0] <= 1.0


def test_hourly_budget_exhausted_is_retriable_with_retry_after(make):
    """Past the hourly budget the caller gets RetriableError naming when to come back."""
    clock = NoSleep()
    limiter = make([(1, 100), (3600, 5)], clock, max_wait=30)
    for _ in range(5):
        limiter.acquire()
        clock(10)
    with pytest.raises(RetriableError) as err:
        limiter.acquire()
    assert err.value.retry_after == pytest.approx(3600 - 50, abs=0.01)
    clock(3600 - 50)
    limiter.acquire()  # the first slot has left the window


def test_limit_is_shared_between_workers(redis):
    """Two limiter instances (two workers) on one Redis share one budget."""
    clock = NoSleep()
    a = RateLimiter(redis, "shared", [(1, 3)], clock=clock.time, sleep=clock)
    b = RateLimiter(redis, "shared", [(1, 3)], clock=clock.time, sleep=clock)
    a.acquire()
    b.acquire()
    a.acquire()
    assert b.try_acquire() > 0


def test_a_429_pauses_every_caller(make):
    """After penalize(s), nobody gets a slot for s seconds."""
    clock = NoSleep()
    limiter = make([(1, 3)], clock)
    limiter.penalize(20)
    assert limiter.try_acquire() == pytest.approx(20, abs=0.01)
    limiter.acquire()
    assert clock.delays and sum(clock.delays) == pytest.approx(20, abs=0.01)
