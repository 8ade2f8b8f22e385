"""Structured JSON logs with a request or job id; secrets never reach a log line."""

from __future__ import annotations

import logging
import os
import re
import sys
from contextvars import ContextVar

import orjson

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (
        re.compile(
            r"(?i)((?:password|secret|token|api_key|apikey|authorization)[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s\"',&]+"
        ),
        r"\1***",
    ),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_***"),
    (re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]+"), r"\1_\2_***"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
]


def redact(text: str) -> str:
    """Mask anything that looks like a credential."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = request_id.get()
        if rid:
            doc["request_id"] = rid
        for key in ("job_id", "inbox_id", "account_id", "connector_id"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(doc).decode()


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str = "INFO", json_lines: bool = True) -> None:
    """Install one handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cshub", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._cshub = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter() if json_lines else RedactingFormatter("%(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)


def new_request_id() -> str:
    return os.urandom(8).hex()
