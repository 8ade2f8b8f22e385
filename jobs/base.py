"""The one way cshub defines and enqueues RQ jobs.

``@job(queue=..., timeout=..., retry=...)`` records the defaults on the function and runs it
inside an app context with its job id in every log line; ``enqueue(func, ...)`` applies them.
The worker builds the app once before forking (``set_app``) and each work horse drops the
inherited database connections, so no pool is shared across a fork.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import Flask, has_app_context
from rq import Retry, get_current_job
from rq.job import Job

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

DEFAULT_RETRY_INTERVALS = (10, 60, 300)
_app: Flask | None = None
_app_pid: int | None = None
PRELOAD = (
    "jobs.connectors",
    "jobs.growth",
    "jobs.inbox",
    "jobs.kpis",
    "jobs.playbooks",
    "jobs.scoring",
    "jobs.sync",
    "hub.playbooks.engine",
    "hub.playbooks.dispatch",
    "hub.scoring_service",
    "hub.churn_service",
    "hub.metrics",
    "scoring.training",
)
"""What jobs import when they run: the worker imports it once, before forking."""


def preload() -> None:
    """Import the job modules and what they use, and parse the shipped playbooks: RQ forks a
    work horse per job, which then starts with all of it in memory instead of paying for it
    again in every job (scoring's imports take about a second, the playbooks and the scoring
    defaults 0.2 s each)."""
    from importlib import import_module

    from hub import scoring_config
    from hub.playbooks import loader

    for name in PRELOAD:
        import_module(name)
    loader.warm()
    scoring_config.default_config()  # reads and caches the shipped defaults (YAML)


def set_app(app: Flask) -> None:
    """Use ``app`` for jobs run in this process and its forks (the worker calls this)."""
    global _app, _app_pid
    import os

    _app, _app_pid = app, os.getpid()


def get_app() -> Flask:
    """The process's app, built from the environment on first use; fork-safe."""
    global _app, _app_pid
    import os

    from hub.db import db

    if _app is None:
        from hub import create_app

        set_app(create_app())
    elif _app_pid != os.getpid():
        db.dispose_after_fork()
        _app_pid = os.getpid()
    assert _app is not None
    return _app


def job(
    queue: str = "default",
    timeout: int = 600,
    retries: int = 3,
    intervals: tuple[int, ...] = DEFAULT_RETRY_INTERVALS,
    result_ttl: int = 86400,
    failure_ttl: int = 7 * 86400,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare a job function with the house defaults."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            current = get_current_job()
            job_id = current.id if current else None
            if has_app_context():
                return func(*args, **kwargs)
            with get_app().app_context():
                log.info("job %s start", func.__qualname__, extra={"job_id": job_id})
                result = func(*args, **kwargs)
                log.info("job %s done", func.__qualname__, extra={"job_id": job_id})
                return result

        run.job_options = {  # type: ignore[attr-defined]
            "queue": queue,
            "job_timeout": timeout,
            "retry": Retry(max=retries, interval=list(intervals)) if retries else None,
            "result_ttl": result_ttl,
            "failure_ttl": failure_ttl,
        }
        return run

    return decorate


def enqueue(func: Callable[..., Any], *args: Any, **options: Any) -> Job:
    """Enqueue ``func`` with its declared defaults; ``options`` override them (job_id, ...)."""
    from hub.queue import queues

    defaults = dict(getattr(func, "job_options", {"queue": "default"}))
    defaults.update(options)
    queue_name = defaults.pop("queue")
    if defaults.get("retry") is None:
        defaults.pop("retry", None)
    return queues[queue_name].enqueue(func, *args, **defaults)
