"""Operator endpoints: /healthz (process up), /readyz (database and Redis), /metrics."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from hub.db import db
from hub.errors import from_http_exception
from hub.logging import new_request_id, request_id
from hub.queue import queues

bp = Blueprint("ops", __name__)

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "cshub_http_requests_total",
    "HTTP requests",
    ["method", "endpoint", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "cshub_http_request_seconds", "HTTP request latency", ["endpoint"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge("cshub_queue_depth", "Jobs waiting per RQ queue", ["queue"], registry=REGISTRY)
JOB_OUTCOMES = Gauge(
    "cshub_jobs",
    "Jobs per RQ registry (finished, failed, started, deferred, scheduled)",
    ["queue", "state"],
    registry=REGISTRY,
)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report any driver failure as not ready
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        queues.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    for queue in queues.all():
        QUEUE_DEPTH.labels(queue.name).set(queue.count)
        JOB_OUTCOMES.labels(queue.name, "finished").set(queue.finished_job_registry.count)
        JOB_OUTCOMES.labels(queue.name, "failed").set(queue.failed_job_registry.count)
        JOB_OUTCOMES.labels(queue.name, "started").set(queue.started_job_registry.count)
        JOB_OUTCOMES.labels(queue.name, "deferred").set(queue.deferred_job_registry.count)
        JOB_OUTCOMES.labels(queue.name, "scheduled").set(queue.scheduled_job_registry.count)
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def _start_request() -> None:
    g.started = time.perf_counter()
    request_id.set(request.headers.get("X-Request-Id") or new_request_id())


def _finish_request(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    REQUESTS.labels(request.method, endpoint, response.status_code).inc()
    if "started" in g:
        LATENCY.labels(endpoint).observe(time.perf_counter() - g.started)
    response.headers["X-Request-Id"] = request_id.get() or ""
    return response


def _json_errors_outside_ui(exc: HTTPException):
    """API and ops paths answer errors as JSON; the UI renders its own pages."""
    if request.path.startswith(("/api", "/healthz", "/readyz", "/metrics")):
        return from_http_exception(exc)
    return exc


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(HTTPException, _json_errors_outside_ui)
