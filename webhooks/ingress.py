"""``/webhooks/<source>``: size check, verify, one INSERT, one enqueue, answer; as plain WSGI.

Deliveries are the hub's busiest and shortest requests. Under Flask, the per-request machinery
(contexts, hooks, URL matching, response finalisation) cost as much CPU as the delivery itself,
so ``Ingress`` wraps the app's ``wsgi_app`` and answers ``/webhooks/...`` before Flask sees
it, keeping what the hooks gave these paths: the request id (``X-Request-Id``, also in the
logs), the request counter and latency histogram, JSON errors. Everything else goes to Flask.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_content_length, get_input_stream

from hub.logging import new_request_id, request_id
from hub.ops import LATENCY, REQUESTS
from webhooks import events, mixpanel, salesforce, secrets, stripe
from webhooks.base import Receiver, Reply, json_failure
from webhooks.inbox import store
from webhooks.verify import WebhookError

log = logging.getLogger(__name__)

RECEIVERS: dict[str, Receiver] = {
    r.source: r for r in (stripe.RECEIVER, mixpanel.RECEIVER, salesforce.RECEIVER, events.RECEIVER)
}
PREFIX = "/webhooks/"
ENDPOINT = "/webhooks/<source>"  # the metrics label, as a Flask rule would name it
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Ingress:
    """WSGI middleware: ``/webhooks/...`` answered here, every other path by ``fallback``."""

    def __init__(self, app: Flask, fallback: WSGIApp) -> None:
        self.app = app
        self.fallback = fallback
        self._latency = LATENCY.labels(ENDPOINT)
        self._counters: dict[tuple[str, int], Any] = {}  # the counter of each method and status

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        path: str = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.fallback(environ, start_response)
        started = time.perf_counter()
        headers = EnvironHeaders(environ)
        rid = headers.get("X-Request-Id") or new_request_id()
        token = request_id.set(rid)
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            reply = self.respond(method, path[len(PREFIX) :], environ, headers)
        except Exception:  # a bug must still answer JSON, and be logged with its request id
            log.exception("webhook %s failed", path)
            reply = json_failure(WebhookError(500, "internal_error", "an internal error"))
        finally:
            request_id.reset(token)
        self._count(method, reply.status)
        self._latency.observe(time.perf_counter() - started)
        start_response(
            f"{reply.status} {HTTP_STATUS_CODES.get(reply.status, 'Unknown')}",
            [
                ("Content-Type", reply.content_type),
                ("Content-Length", str(len(reply.body))),
                ("X-Request-Id", rid),
                *reply.headers,
            ],
        )
        return [reply.body]

    def _count(self, method: str, status: int) -> None:
        method = method if method in KNOWN_METHODS else "other"  # bounded label values
        counter = self._counters.get((method, status))
        if counter is None:
            counter = self._counters[method, status] = REQUESTS.labels(method, ENDPOINT, status)
        counter.inc()

    def respond(
        self, method: str, source: str, environ: dict[str, Any], headers: EnvironHeaders
    ) -> Reply:
        receiver = RECEIVERS.get(source)
        if receiver is None:
            return json_failure(
                WebhookError(404, "not_found", f"no webhook receiver named {source!r}")
            )
        if method != "POST":
            error = WebhookError(405, "method_not_allowed", "webhooks are delivered by POST")
            return replace(json_failure(error), headers=(("Allow", "POST"),))
        config = self.app.config["CSHUB"]
        limit = config.webhook_max_bytes
        too_large = WebhookError(413, "payload_too_large", f"the body is over {limit} bytes")
        body = read_body(environ, limit)
        if body is None:
            return receiver.failure(too_large, b"")
        try:
            delivery = receiver.accept(
                body, headers, secrets.current(self.app), config, time.time()
            )
            stored = store(source, delivery.external_id, delivery.event_type, headers, body)
        except WebhookError as exc:
            return receiver.failure(exc, body)
        except SQLAlchemyError:
            log.exception("webhook %s not stored: database unavailable", source)
            unavailable = WebhookError(503, "unavailable", "the delivery could not be stored")
            return receiver.failure(unavailable, body)
        return receiver.success(delivery, stored)


def read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None when it is over ``limit`` bytes (declared or sent)."""
    declared = get_content_length(environ)
    if declared is not None and declared > limit:
        return None
    body = get_input_stream(environ).read(limit + 1)
    return None if len(body) > limit else body
