"""Pool presets, generic HTTP JSON and the exchange portfolio against local fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.connectors.base import Context, EventRecord, Sample
from integrations.connectors.exchange import ExchangeConnector, ExchangeSpec
from integrations.connectors.http_json import HttpJsonConnector, HttpJsonSpec
from integrations.connectors.pool import PoolConnector, PoolSpec
from integrations.errors import FatalError, RetriableError
from tests.fakes.kraken import FakeKraken
from tests.fakes.pools import (
    BRAIINS_TOKEN,
    VIABTC_KEY,
    FakeJsonServer,
    braiins_routes,
    viabtc_routes,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def by_key(records):
    return {(r.subject, r.metric): r.value for r in records if isinstance(r, Sample)}


def pool(settings: dict) -> PoolConnector:
    return PoolConnector(
        PoolSpec().load({"allow_private_network": True, **settings}), Context(now=NOW)
    )


def test_braiins_preset_reads_profile_and_workers():
    """Braiins: Gh/s converted to TH/s, worker counts, rewards, per-worker hashrate."""
    with FakeJsonServer(braiins_routes()) as server:
        got = by_key(
            pool(
                {
                    "preset": "braiins",
                    "base_url": server.url,
                    "api_token": BRAIINS_TOKEN,
                    "account_name": "acme",
                }
            ).sync()
        )
        assert server.requests[0][2]["slushpool-auth-token"] == BRAIINS_TOKEN
    assert got[("acme", "hashrate_ths")] == pytest.approx(405.1235)
    assert got[("acme", "hashrate_24h_ths")] == pytest.approx(399.8002)
    assert (got[("acme", "workers_active")], got[("acme", "workers_offline")]) == (27, 2)
    assert got[("acme", "earnings_today_btc")] == pytest.approx(0.00321)
    assert got[("acme.rig01", "worker_hashrate_ths")] == pytest.approx(14.977)
    assert got[("acme.rig02", "worker_hashrate_ths")] == 0


def test_braiins_bad_token_is_fatal():
    """A refused token (HTTP 401) is fatal: retrying will not help."""
    with FakeJsonServer(braiins_routes()) as server:
        c = pool({"preset": "braiins", "base_url": server.url, "api_token": "wrong"})
        with pytest.raises(FatalError, match="401"):
            c.check()


def test_viabtc_preset_and_api_level_error():
    """ViaBTC: H/s strings to TH/s, reject ratio to %, and code != 0 reported as an error."""
    with FakeJsonServer(viabtc_routes()) as server:
        got = by_key(
            pool({"preset": "viabtc", "base_url": server.url, "api_token": VIABTC_KEY}).sync()
        )
        assert got[("viabtc", "hashrate_ths")] == pytest.approx(505.775348776)
        assert got[("viabtc", "rejected_share_pct")] == pytest.approx(0.21)
        assert (got[("viabtc", "workers_active")], got[("viabtc", "workers_offline")]) == (36, 2)
        bad = pool({"preset": "viabtc", "base_url": server.url, "api_token": "nope"})
        with pytest.raises(FatalError, match="invalid api key"):
            bad.check()


def test_custom_pool_needs_endpoints():
    """A custom pool without endpoints is refused by its settings schema."""
    from marshmallow import ValidationError

    with pytest.raises(ValidationError):
        PoolSpec().load({"preset": "custom", "base_url": "https://pool.example"})


def _feed(doc):
    return {"/metrics": lambda method, query, headers, body: (200, doc)}


def test_http_json_maps_records_times_and_accounts():
    """Records by JSONPath, per-record time and subject, account keys for shared feeds."""
    doc = {
        "farms": [
            {"id": "f1", "customer": "SF-1", "ts": 1772366000, "th": "120.5", "up": 99.1},
            {"id": "f2", "customer": "SF-2", "ts": 1772366000, "th": 80, "up": 97},
        ]
    }
    with FakeJsonServer(_feed(doc)) as server:
        settings = HttpJsonSpec().load(
            {
                "url": server.url,
                "path": "/metrics",
                "allow_private_network": True,
                "auth_header": "X-Token",
                "auth_value": "s3cret",
                "records": "$.farms[*]",
                "subject": "id",
                "time": "ts",
                "account": "customer",
                "metrics": [
                    {"metric": "hashrate_ths", "path": "th"},
                    {"metric": "uptime_pct", "path": "up"},
                ],
            }
        )
        records = list(HttpJsonConnector(settings, Context(now=NOW)).sync())
        assert server.requests[0][2]["x-token"] == "s3cret"
    assert {(r.subject, r.metric, r.value, r.account_key) for r in records} == {
        ("f1", "hashrate_ths", 120.5, "SF-1"),
        ("f1", "uptime_pct", 99.1, "SF-1"),
        ("f2", "hashrate_ths", 80.0, "SF-2"),
        ("f2", "uptime_pct", 97.0, "SF-2"),
    }
    assert all(r.measured_at == datetime.fromtimestamp(1772366000, UTC) for r in records)


def kraken(fake: FakeKraken, now=NOW, state=None, **extra) -> ExchangeConnector:
    settings = ExchangeSpec().load(
        {
            "exchange": "kraken",
            "api_key": fake.key,
            "api_secret": fake.secret,
            "api_base_url": fake.url,
            "allow_private_network": True,
            "rate_limit_ms": 0,
            **extra,
        }
    )
    return ExchangeConnector(settings, Context(now=now, state=state or {}))


def test_exchange_portfolio_pnl_and_yield():
    """Value in USD, average-cost realised PnL, annualised yield; a trade counts once."""
    now = datetime.now(UTC).replace(microsecond=0)
    with FakeKraken() as fake:
        fake.add_trade(
            "T1", "XXBTZUSD", "buy", "1.0", "40000.0", "64.0", (now - timedelta(days=5)).timestamp()
        )
        fake.add_trade(
            "T2",
            "XXBTZUSD",
            "sell",
            "0.5",
            "50000.0",
            "40.0",
            (now - timedelta(days=2)).timestamp(),
        )
        first = kraken(fake, now=now)
        records = list(first.sync())
        got = by_key(records)
        assert got[("kraken", "portfolio_value_usd")] == pytest.approx(0.5 * 50000 + 10000)
        pnl = (50000 - 40064) * 0.5 - 40
        assert got[("kraken", "realized_pnl_usd")] == pytest.approx(pnl)
        assert got[("kraken", "yield_pct")] == pytest.approx(100 * pnl / 35000 * 365 / 30)
        assert {r.key for r in records if isinstance(r, EventRecord)} == {"kraken:T1", "kraken:T2"}
        second = kraken(fake, now=now + timedelta(minutes=15), state=first.state)
        again = by_key(second.sync())
        assert again[("kraken", "realized_pnl_usd")] == 0
        assert again[("kraken", "realized_pnl_30d_usd")] == pytest.approx(pnl)
        assert not any(c.endswith(("AddOrder", "Withdraw")) for c in fake.calls)


def test_exchange_bad_key_is_fatal_and_rate_limit_retriable():
    """Kraken's EAPI:Invalid key is fatal; EAPI:Rate limit exceeded is retriable."""
    with FakeKraken() as fake:
        wrong = kraken(fake, api_key="other")
        with pytest.raises(FatalError, match="Invalid key"):
            wrong.check()
        fake.rate_limited = 1
        with pytest.raises(RetriableError):
            kraken(fake).check()
