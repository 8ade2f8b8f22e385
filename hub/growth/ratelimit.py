"""A fixed-window rate limit per client address in Redis, for the public endpoints."""

from __future__ import annotations

import time

from flask import request

from hub.errors import ApiError
from hub.queue import queues


def hit(bucket: str, ident: str, limit: int, window_s: int = 60) -> bool:
    """Count one request; False once ``ident`` made more than ``limit`` in this window."""
    window = int(time.time() // window_s)
    key = f"cshub:rl:{bucket}:{ident}:{window}"
    pipe = queues.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, window_s + 5)
    count, _ = pipe.execute()
    return int(count) <= limit


def enforce(bucket: str, limit: int, window_s: int = 60) -> None:
    """Raise 429 when the caller's address is over ``limit`` requests per window."""
    ident = request.remote_addr or "unknown"
    if not hit(bucket, ident, limit, window_s):
        raise ApiError(429, "rate_limited", "too many requests; try again in a minute")
