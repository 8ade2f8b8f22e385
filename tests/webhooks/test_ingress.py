"""The WSGI entry of /webhooks: what Flask's hooks gave these paths is still given."""

from __future__ import annotations

import io
import logging
import re

import orjson
import pytest

from tests.webhooks.helpers import post_stripe
from tests.webhooks.payloads import stripe_event, subscription
from webhooks import ingress


def _event(event_id: str = "evt_ingress_1") -> dict:
    return stripe_event(event_id, "customer.subscription.created", subscription())


def _requests_counted(client, status: int) -> float:
    body = client.get("/metrics").data.decode()
    pattern = (
        r'cshub_http_requests_total\{endpoint="/webhooks/<source>",method="POST",'
        rf'status="{status}"\}} ([0-9.]+)'
    )
    found = re.search(pattern, body)
    return float(found.group(1)) if found else 0.0


def test_request_id_is_kept_or_made(client):
    kept = client.post("/webhooks/stripe", data=b"{}", headers={"X-Request-Id": "req-wh-7"})
    assert kept.headers["X-Request-Id"] == "req-wh-7"
    made = post_stripe(client, _event())
    assert made.status_code == 200 and len(made.headers["X-Request-Id"]) == 16


def test_deliveries_are_counted_in_metrics(client):
    before_ok, before_401 = _requests_counted(client, 200), _requests_counted(client, 401)
    assert post_stripe(client, _event("evt_ingress_m1")).status_code == 200
    assert post_stripe(client, _event("evt_ingress_m2"), secret="whsec_wrong").status_code == 401
    assert _requests_counted(client, 200) == before_ok + 1
    assert _requests_counted(client, 401) == before_401 + 1


def test_other_paths_still_reach_flask(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/webhooksx").status_code == 404


def test_a_receiver_bug_answers_500_json_and_logs_the_request_id(client, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ingress.RECEIVERS["stripe"], "accept", broken)
    with caplog.at_level(logging.ERROR, logger="webhooks.ingress"):
        response = client.post("/webhooks/stripe", data=b"{}", headers={"X-Request-Id": "r-500"})
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert response.headers["X-Request-Id"] == "r-500"
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize("size, expected", [(512, b"x" * 512), (513, None)])
def test_a_body_without_length_is_read_up_to_the_limit(size, expected):
    """A chunked body (no Content-Length, a server that ends the stream) is cut at the limit."""
    environ = {"wsgi.input": io.BytesIO(b"x" * size), "wsgi.input_terminated": True}
    assert ingress.read_body(environ, 512) == expected


def test_a_declared_length_over_the_limit_is_refused_unread():
    stream = io.BytesIO(b"x" * 10)
    environ = {"wsgi.input": stream, "CONTENT_LENGTH": "4096"}
    assert ingress.read_body(environ, 512) is None
    assert stream.tell() == 0


def test_unknown_source_answers_404_for_any_method(client):
    for method in (client.get, client.post):
        response = method("/webhooks/paypal")
        assert response.status_code == 404
        assert orjson.loads(response.data)["error"]["code"] == "not_found"
