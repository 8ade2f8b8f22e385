"""A running fake and working settings for every connector type (for the contract tests).

Adding a connector type without an entry here fails the contract test: every type must be
provable against a local fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.cgminer import FakeRig
from tests.fakes.kraken import FakeKraken
from tests.fakes.pools import BRAIINS_TOKEN, FakeJsonServer, braiins_routes


@contextmanager
def cgminer_live() -> Iterator[dict[str, Any]]:
    with FakeRig("bmminer") as rig:
        yield {"host": "127.0.0.1", "port": rig.port, "timeout_s": 2.0, "nominal_power_w": 1323}


@contextmanager
def pool_live() -> Iterator[dict[str, Any]]:
    with FakeJsonServer(braiins_routes()) as server:
        yield {"preset": "braiins", "base_url": server.url, "api_token": BRAIINS_TOKEN}


@contextmanager
def http_json_live() -> Iterator[dict[str, Any]]:
    doc = {"data": {"hashrate": 101.5, "uptime": 99.0}}
    with FakeJsonServer({"/v1/rig": lambda *a: (200, doc)}) as server:
        yield {
            "url": server.url,
            "path": "/v1/rig",
            "auth_value": "Bearer t0k3n",
            "records": "$.data",
            "metrics": [
                {"metric": "hashrate_ths", "path": "hashrate"},
                {"metric": "uptime_pct", "path": "uptime"},
            ],
        }


@contextmanager
def exchange_live() -> Iterator[dict[str, Any]]:
    with FakeKraken() as fake:
        when = (datetime.now(UTC) - timedelta(days=1)).timestamp()
        fake.add_trade("T9", "XXBTZUSD", "buy", "0.5", "40000.0", "10.0", when)
        yield {
            "exchange": "kraken",
            "api_key": fake.key,
            "api_secret": fake.secret,
            "api_base_url": fake.url,
            "rate_limit_ms": 0,
        }


LIVE = {
    "cgminer": cgminer_live,
    "pool": pool_live,
    "http_json": http_json_live,
    "exchange": exchange_live,
}
