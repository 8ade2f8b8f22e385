"""One contract for every registered connector type, plus table-driven HTTP failures."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import responses
from marshmallow import ValidationError

from integrations.connectors import registry
from integrations.connectors.base import BaseSpec, Context, EventRecord, Sample
from integrations.connectors.safety import TargetRefused
from integrations.errors import FatalError, RetriableError
from tests.integrations.connectors.conftest import LIVE

TYPES = sorted(registry.TYPE_MODULES)
METRIC = re.compile(r"^[a-z][a-z0-9_]*$")


def build(type_name: str, settings: dict, **context):
    cls = registry.get(type_name).cls
    return cls(cls.spec().load(settings), Context(**context))


@pytest.mark.parametrize("type_name", TYPES)
def test_type_describes_itself(type_name):
    """Every type: enabled here, a settings schema with secrets marked, keys declared."""
    info = registry.get(type_name)
    assert info.enabled, info.reason
    cls = info.cls
    assert cls.type == type_name and cls.name and issubclass(cls.spec, BaseSpec)
    assert cls.primary_key and isinstance(cls.cursor_field, str)
    doc = json.loads(json.dumps(info.describe()))
    settings = doc["settings"]
    assert (
        "allow_private_network" in settings
        and settings["allow_private_network"]["default"] is False
    )
    marked = {name for name, f in settings.items() if f["secret"]}
    assert marked == set(cls.secret_keys())
    assert all("default" not in settings[name] for name in marked)
    assert type_name in LIVE, "every connector type needs a local fake in conftest.LIVE"


@pytest.mark.parametrize("type_name", TYPES)
def test_unknown_settings_are_refused(type_name):
    """A typo in a setting is an error, never silently ignored."""
    with LIVE[type_name]() as settings, pytest.raises(ValidationError) as err:
        registry.get(type_name).cls.spec().load({**settings, "alow_private_network": True})
    assert "alow_private_network" in err.value.messages


@pytest.mark.parametrize("type_name", TYPES)
def test_check_and_read_against_fake(type_name):
    """check() gives facts; read() gives only samples/events with aware times and clean names."""
    now = datetime.now(UTC)
    with LIVE[type_name]() as settings:
        connector = build(type_name, {**settings, "allow_private_network": True}, now=now)
        facts = connector.check()
        assert isinstance(facts, dict) and facts
        records = list(connector.sync())
        assert records and all(isinstance(r, Sample | EventRecord) for r in records)
        samples = [r for r in records if isinstance(r, Sample)]
        assert samples and all(METRIC.match(s.metric) for s in samples)
        assert all(s.measured_at.tzinfo is not None for s in samples)
        cursor = connector.state["cursor"]
        assert cursor == max(s.measured_at for s in samples).isoformat()
        # a second read with the same clock and the saved cursor yields no sample twice
        again = build(
            type_name, {**settings, "allow_private_network": True}, now=now, state=connector.state
        )
        assert [r for r in again.sync() if isinstance(r, Sample)] == []


@pytest.mark.parametrize("type_name", TYPES)
def test_loopback_target_refused_without_permission(type_name):
    """The fake listens on 127.0.0.1: without allow_private_network nothing is contacted."""
    with LIVE[type_name]() as settings:
        connector = build(type_name, settings)
        with pytest.raises(TargetRefused):
            connector.check()


PUBLIC = "http://93.184.216.34"
HTTP_TYPES = {
    "pool": (
        {"preset": "viabtc", "base_url": PUBLIC, "api_token": "k"},
        f"{PUBLIC}/res/openapi/v1/hashrate",
    ),
    "http_json": (
        {"url": PUBLIC, "path": "/feed", "metrics": [{"metric": "hashrate_ths", "path": "$.h"}]},
        f"{PUBLIC}/feed",
    ),
    "exchange": (
        {
            "exchange": "kraken",
            "api_key": "k",
            "api_secret": "c2VjcmV0",
            "api_base_url": PUBLIC,
            "rate_limit_ms": 0,
        },
        re.compile(re.escape(PUBLIC) + r"/0/public/.*"),
    ),
}
FAILURES = [
    (429, RetriableError),
    (500, RetriableError),
    (502, RetriableError),
    (503, RetriableError),
    (400, FatalError),
    (401, FatalError),
    (403, FatalError),
    (404, FatalError),
]


def test_every_http_type_is_in_the_failure_table():
    """New HTTP types must join the failure table below."""
    http_types = {t for t in TYPES if issubclass(registry.get(t).cls, tuple(_http_bases()))}
    assert http_types <= set(HTTP_TYPES)


def _http_bases():
    from integrations.connectors.exchange import ExchangeConnector
    from integrations.connectors.http_json import HttpConnector

    return [HttpConnector, ExchangeConnector]


@pytest.mark.parametrize("type_name", sorted(HTTP_TYPES))
@pytest.mark.parametrize("status, kind", FAILURES)
def test_http_failures_are_classified(type_name, status, kind):
    """429 and 5xx are retriable; any other 4xx is fatal — for every HTTP connector."""
    settings, url = HTTP_TYPES[type_name]
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, url, status=status, json={"error": ["nope"]})
        connector = build(type_name, settings)
        with pytest.raises(kind) as err:
            list(connector.sync())
    assert type(err.value) is kind or issubclass(type(err.value), kind)
    if kind is FatalError:
        assert not isinstance(err.value, RetriableError)
