"""Per-sample validation and the derived metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.connectors import derived
from integrations.connectors.base import Sample
from integrations.connectors.validation import Validator

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "metric, value, at, reason",
    [
        ("hashrate_ths", 13.5, NOW, None),
        ("hashrate_ths", "13.5", NOW, "non_numeric"),
        ("hashrate_ths", "N/A", NOW, "non_numeric"),
        ("hashrate_ths", float("nan"), NOW, "non_numeric"),
        ("hashrate_ths", True, NOW, "non_numeric"),
        ("hashrate_ths", -0.1, NOW, "negative"),
        ("board_hashrate_ths", -2.0, NOW, "negative"),
        ("hashrate_ths", 13.5, NOW + timedelta(hours=1), "future_time"),
        ("hashrate_ths", 13.5, NOW + timedelta(minutes=2), None),  # clock skew allowance
        ("hashrate_ths", 13.5, datetime(1970, 1, 1, tzinfo=UTC), "too_old"),
        ("hashrate_ths", 13.5, None, "bad_time"),
        ("uptime_pct", 100.5, NOW, "out_of_range"),
        ("rejected_share_pct", -1.0, NOW, "out_of_range"),
        ("yield_pct", -12.0, NOW, None),
        ("realized_pnl_usd", -250.0, NOW, None),
        ("temperature_max_c", -5.0, NOW, None),
    ],
)
def test_sample_reasons(metric, value, at, reason):
    """Each kind of bad value is rejected with its own reason; good values pass."""
    validator = Validator(NOW)
    assert validator.reason(Sample(metric, value, at)) == reason


def test_rejections_are_counted():
    """accept() counts what it rejects, by reason."""
    validator = Validator(NOW)
    kept = [validator.accept(Sample("hashrate_ths", v, NOW)) for v in (1.0, -1.0, "x", -2.0, 3.0)]
    assert kept == [True, False, False, False, True]
    assert validator.rejected == {"negative": 2, "non_numeric": 1}


def test_derived_metrics():
    """J/TH, uptime %, rejected-share % and annualised yield, and None when undefined."""
    assert derived.efficiency_j_th(3250, 110) == pytest.approx(29.545, abs=1e-3)
    assert derived.efficiency_j_th(3250, 0) is None and derived.efficiency_j_th(None, 110) is None
    assert derived.uptime_pct(450, 900) == 50.0 and derived.uptime_pct(5000, 900) == 100.0
    assert derived.rejected_share_pct(990, 8, 2) == pytest.approx(1.0)
    assert derived.rejected_share_pct(0, 0, 0) is None
    assert derived.yield_pct(100, 10_000, 30) == pytest.approx(12.1667, abs=1e-4)
    assert derived.yield_pct(100, 0, 30) is None
    assert derived.value_metric("portfolio_value", "USDT") == "portfolio_value_usd"
    assert derived.value_metric("portfolio_value", "BTC") == "portfolio_value_btc"
