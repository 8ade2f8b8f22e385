"""Derived metrics, computed the same way by every connector (see docs/connectors.md).

Each returns None when its inputs cannot give a meaningful number (no hashrate, no shares,
no portfolio value), and then no sample is emitted rather than a made-up zero.
"""

from __future__ import annotations

USD_LIKE = ("USD", "USDT", "USDC")


def efficiency_j_th(power_w: float | None, hashrate_ths: float | None) -> float | None:
    """Energy per terahash: watts / (TH/s) = J/TH. Lower is better (S19 ~ 34, S21 ~ 17.5)."""
    if not power_w or not hashrate_ths or hashrate_ths <= 0 or power_w <= 0:
        return None
    return power_w / hashrate_ths


def uptime_pct(up_seconds: float | None, window_seconds: float | None) -> float | None:
    """Share of the window the miner ran: 100 * min(uptime, window) / window."""
    if up_seconds is None or not window_seconds or window_seconds <= 0 or up_seconds < 0:
        return None
    return 100.0 * min(up_seconds, window_seconds) / window_seconds


def rejected_share_pct(
    accepted: float | None, rejected: float | None, stale: float | None = 0.0
) -> float | None:
    """Rejected and stale work as a share of all submitted: 100 * (rej + stale) / total."""
    accepted, rejected, stale = accepted or 0.0, rejected or 0.0, stale or 0.0
    total = accepted + rejected + stale
    if total <= 0:
        return None
    return 100.0 * (rejected + stale) / total


def yield_pct(
    realized_pnl: float | None, portfolio_value: float | None, days: float
) -> float | None:
    """Annualised return: 100 * PnL over the window / portfolio value * 365 / window days."""
    if realized_pnl is None or not portfolio_value or portfolio_value <= 0 or days <= 0:
        return None
    return 100.0 * realized_pnl / portfolio_value * 365.0 / days


def value_metric(prefix: str, quote: str) -> str:
    """``portfolio_value_usd`` for USD-like quotes, else ``portfolio_value_<quote>``."""
    suffix = "usd" if quote.upper() in USD_LIKE else quote.lower()
    return f"{prefix}_{suffix}"
