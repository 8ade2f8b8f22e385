"""Mapping a JSON answer to samples and events with JSONPath (jsonpath-ng, extended syntax).

An endpoint mapping says where the records are (``records``: a JSONPath to an array's items
or an object's values; default the whole document), how to name each record (``subject``:
``@key`` for the object key, or a JSONPath inside the record), when it was measured
(``time``), which account it belongs to (``account``) and which values become which
metrics (``metrics``: metric name, JSONPath, a scale factor, optionally a JSONPath to a
hashrate unit such as ``Gh/s`` converted to TH/s). ``ok`` checks an API-level status field
(many pool APIs answer HTTP 200 with ``{"code": 1, "message": "..."}`` on error).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from integrations.connectors.base import EventRecord, Sample
from integrations.connectors.validation import to_number
from integrations.errors import FatalError

HASHRATE_UNITS = {
    "h/s": 1e-12,
    "kh/s": 1e-9,
    "mh/s": 1e-6,
    "gh/s": 1e-3,
    "th/s": 1.0,
    "ph/s": 1e3,
    "eh/s": 1e6,
}
METRIC_NAME = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="lower_snake_case, max 64")


@lru_cache(maxsize=512)
def compile_path(expression: str):
    return parse(expression)


def _valid_path(value: str) -> None:
    try:
        compile_path(value)
    except (JsonPathParserError, Exception) as exc:  # the parser raises several types
        raise ValidationError(f"not a valid JSONPath: {exc}") from exc


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class MetricMap(_Strict):
    metric = fields.Str(required=True, validate=METRIC_NAME)
    path = fields.Str(required=True, validate=_valid_path)
    scale = fields.Float(load_default=1.0)
    unit_path = fields.Str(load_default=None, allow_none=True, validate=_valid_path)


class OkCheck(_Strict):
    path = fields.Str(required=True, validate=_valid_path)
    equals = fields.Raw(required=True)
    message_path = fields.Str(load_default=None, allow_none=True, validate=_valid_path)


class EventMap(_Strict):
    name = fields.Str(required=True, validate=METRIC_NAME)
    id_path = fields.Str(required=True, validate=_valid_path)
    properties = fields.Dict(keys=fields.Str(), values=fields.Str(), load_default=dict)


class EndpointMap(_Strict):
    path = fields.Str(load_default="", metadata={"description": "appended to the base URL"})
    method = fields.Str(load_default="GET", validate=validate.OneOf(["GET", "POST"]))
    params = fields.Dict(keys=fields.Str(), values=fields.Raw(), load_default=dict)
    body = fields.Raw(load_default=None, allow_none=True)
    records = fields.Str(load_default="$", validate=_valid_path)
    subject = fields.Str(load_default=None, allow_none=True)
    time = fields.Str(load_default=None, allow_none=True, validate=_valid_path)
    time_format = fields.Str(
        load_default="epoch_s", validate=validate.OneOf(["epoch_s", "epoch_ms", "iso"])
    )
    account = fields.Str(load_default=None, allow_none=True, validate=_valid_path)
    ok = fields.Nested(OkCheck, load_default=None, allow_none=True)
    metrics = fields.List(fields.Nested(MetricMap), load_default=list)
    event = fields.Nested(EventMap, load_default=None, allow_none=True)

    @validates("subject")
    def _subject(self, value: str | None, **_: Any) -> None:
        if value and value != "@key":
            _valid_path(value)


def first(doc: Any, expression: str | None) -> Any:
    if not expression:
        return None
    matches = compile_path(expression).find(doc)
    return matches[0].value if matches else None


def _records(doc: Any, expression: str) -> Iterator[tuple[str | None, Any]]:
    """(key, record) pairs: array items keyed by index, object values keyed by name."""
    if expression in ("$", ""):
        yield None, doc
        return
    matches = compile_path(expression).find(doc)
    if len(matches) == 1 and isinstance(matches[0].value, list):
        for index, item in enumerate(matches[0].value):
            yield str(index), item
        return
    for match in matches:
        path = match.path
        if getattr(path, "fields", None):
            key = str(path.fields[0])
        elif hasattr(path, "index"):
            key = str(path.index)
        else:
            key = None
        yield key, match.value


def _time(raw: Any, fmt: str, now: datetime) -> datetime | None:
    if raw is None:
        return now
    try:
        if fmt == "iso":
            value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        seconds = float(raw) / (1000.0 if fmt == "epoch_ms" else 1.0)
        return datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def check_ok(doc: Any, ok: dict[str, Any] | None, where: str) -> None:
    if not ok:
        return
    if first(doc, ok["path"]) != ok["equals"]:
        message = first(doc, ok.get("message_path")) or first(doc, ok["path"])
        raise FatalError(f"{where}: the API reported an error: {message}")


def extract(
    doc: Any, endpoint: dict[str, Any], now: datetime, default_subject: str
) -> Iterator[Sample | EventRecord]:
    """Samples (and events) from one answer, as the mapping says. Bad times count as bad."""
    for key, record in _records(doc, endpoint.get("records") or "$"):
        subject_spec = endpoint.get("subject")
        if subject_spec == "@key":
            subject = key or default_subject
        else:
            subject = str(first(record, subject_spec) or default_subject)
        measured = _time(first(record, endpoint.get("time")), endpoint["time_format"], now)
        account = first(record, endpoint.get("account"))
        account_key = None if account is None else str(account)
        for metric in endpoint.get("metrics") or []:
            raw = first(record, metric["path"])
            if raw is None:
                continue
            value = to_number(raw)
            if isinstance(value, float):
                factor = metric.get("scale", 1.0)
                if metric.get("unit_path"):
                    unit = str(
                        first(record, metric["unit_path"]) or first(doc, metric["unit_path"])
                    )
                    if unit.lower() not in HASHRATE_UNITS:
                        value = f"unknown unit {unit!r}"
                    else:
                        factor *= HASHRATE_UNITS[unit.lower()]
                if isinstance(value, float):
                    value *= factor
            yield Sample(metric["metric"], value, measured, subject, account_key)
        event = endpoint.get("event")
        if event and measured is not None:
            ident = first(record, event["id_path"])
            if ident is not None:
                props = {k: first(record, p) for k, p in event.get("properties", {}).items()}
                yield EventRecord(event["name"], measured, str(ident), props, account_key)
