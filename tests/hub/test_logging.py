"""Logs are JSON lines with a request id, and never carry a secret."""

import logging

import orjson

from hub.logging import JsonFormatter, redact


def test_redact_masks_credentials():
    line = (
        "Authorization: Bearer abc.def token=xyz password: 'hunter2' whsec_abcd== "
        "sk_live_123 postgresql://u:pw@h/db"
    )
    out = redact(line)
    for secret in ("abc.def", "xyz", "hunter2", "whsec_abcd", "sk_live_123", ":pw@"):
        assert secret not in out


def test_json_lines_carry_request_id(client, caplog):
    """Each request gets an X-Request-Id (or keeps the caller's) that logs can carry."""
    resp = client.get("/healthz", headers={"X-Request-Id": "req-42"})
    assert resp.headers["X-Request-Id"] == "req-42"
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 16


def test_formatter_emits_json_and_redacts():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "connecting with password=s3cret", None, None
    )
    record.job_id = "j1"
    doc = orjson.loads(JsonFormatter().format(record))
    assert doc["msg"] == "connecting with password=***"
    assert doc["job_id"] == "j1" and doc["level"] == "INFO"
