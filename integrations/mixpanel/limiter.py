"""A sliding-window rate limiter shared by every worker through Redis.

Mixpanel's Raw Event Export API allows 60 queries per hour and 3 per second per project;
every export query (pulls and connection checks, from any process) first takes a slot here.
A 429 from Mixpanel sets a shared back-off that every caller honours. Without Redis (a
bare script) the same limits are kept in process.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence

from redis import Redis

from integrations.errors import RetriableError

EXPORT_LIMITS: tuple[tuple[float, int], ...] = ((1.0, 3), (3600.0, 60))
"""(window seconds, queries allowed in it) for the Raw Event Export API."""

_ACQUIRE = """
local now = tonumber(ARGV[1])
local n = #KEYS - 1
local paused_until = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
if paused_until > now then return paused_until - now end
local wait = 0
for i = 1, n do
  local window = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[1 + 2 * i])))
end
return 0
"""


class RateLimiter:
    """``acquire()`` blocks until a slot is free in every window, or raises RetriableError."""

    def __init__(
        self,
        redis: Redis | None,
        name: str,
        limits: Sequence[tuple[float, int]],
        *,
        max_wait: float = 30.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.redis = redis
        self.name = name
        self.limits = tuple(limits)
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self._script = redis.register_script(_ACQUIRE) if redis is not None else None
        self._local: list[deque[float]] = [deque() for _ in self.limits]
        self._local_penalty_until = 0.0
        self._lock = threading.Lock()

    @property
    def _keys(self) -> list[str]:
        base = f"cshub:ratelimit:{self.name}"
        return [f"{base}:{int(window * 1000)}" for window, _ in self.limits] + [f"{base}:penalty"]

    def try_acquire(self) -> float:
        """Take a slot and return 0, or return the seconds to wait before one frees up."""
        now_ms = self.clock() * 1000.0
        if self._script is not None:
            args: list[float | str] = [now_ms, f"{now_ms:.3f}-{uuid.uuid4().hex}"]
            for window, limit in self.limits:
                args += [window * 1000.0, limit]
            return float(self._script(keys=self._keys, args=args)) / 1000.0
        return self._try_local(now_ms / 1000.0)

    def _try_local(self, now: float) -> float:
        with self._lock:
            if self._local_penalty_until > now:
                return self._local_penalty_until - now
            wait = 0.0
            for (window, limit), hits in zip(self.limits, self._local, strict=True):
                while hits and hits[0] <= now - window:
                    hits.popleft()
                if len(hits) >= limit:
                    wait = max(wait, hits[0] + window - now)
            if wait > 0:
                return wait
            for hits in self._local:
                hits.append(now)
            return 0.0

    def acquire(self) -> None:
        """Wait for a slot (up to ``max_wait`` seconds); longer waits raise RetriableError."""
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return
            if wait > self.max_wait:
                raise RetriableError(
                    f"{self.name}: rate limit reached, next slot in {wait:.0f}s",
                    status=429,
                    retry_after=wait,
                )
            self.sleep(wait)

    def penalize(self, seconds: float) -> None:
        """Make every caller wait ``seconds`` (after a 429 from the server)."""
        if seconds <= 0:
            return
        if self.redis is not None:
            until_ms = (self.clock() + seconds) * 1000.0
            key = self._keys[-1]
            current = float(self.redis.get(key) or 0)
            if current < until_ms:
                self.redis.set(key, f"{until_ms:.0f}", px=max(1, int(seconds * 1000)))
        else:
            with self._lock:
                self._local_penalty_until = max(self._local_penalty_until, self.clock() + seconds)


def export_limiter(redis: Redis | None, project_id: str, **kwargs) -> RateLimiter:
    """The limiter every Raw Event Export query of ``project_id`` goes through."""
    return RateLimiter(redis, f"mixpanel-export:{project_id}", EXPORT_LIMITS, **kwargs)
