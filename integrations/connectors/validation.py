"""Per-sample checks before anything is stored: bad data is counted by reason, never kept.

- ``non_numeric``: the value is not a number (or is NaN/infinite, or a bool);
- ``bad_time``: the record's time could not be read;
- ``negative``: a metric that cannot be negative (hashrate, shares, power, fans, ...) is;
- ``out_of_range``: a percentage outside 0..100 (yield and PnL may be anything finite);
- ``future_time``: measured later than now plus a small clock-skew allowance;
- ``too_old``: measured before the allowed look-back (a rig with a reset clock says 1970).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from integrations.connectors.base import Sample

NON_NEGATIVE_PREFIXES = (
    "hashrate",
    "board_hashrate",
    "efficiency",
    "power",
    "fan",
    "accepted",
    "rejected_shares",
    "stale",
    "hardware_errors",
    "uptime",
    "workers",
    "worker_hashrate",
    "boards",
    "pools",
    "earnings",
    "balance",
    "portfolio_value",
    "positions",
    "open_positions",
)
PERCENT_SUFFIX = "_pct"
SIGNED_PERCENT = ("yield_pct",)


@dataclass
class Validator:
    now: datetime
    max_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=400)
    rejected: Counter = field(default_factory=Counter)

    def reason(self, sample: Sample) -> str | None:
        value = sample.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "non_numeric"
        if not math.isfinite(value):
            return "non_numeric"
        if sample.measured_at is None or sample.measured_at.tzinfo is None:
            return "bad_time"
        if sample.measured_at > self.now + self.max_skew:
            return "future_time"
        if sample.measured_at < self.now - self.max_age:
            return "too_old"
        metric = sample.metric
        if metric.endswith(PERCENT_SUFFIX) and metric not in SIGNED_PERCENT:
            if not 0 <= value <= 100:
                return "out_of_range"
        elif value < 0 and metric.startswith(NON_NEGATIVE_PREFIXES):
            return "negative"
        return None

    def accept(self, sample: Sample) -> bool:
        """True to keep; False counts the reason (``metric:reason`` and ``reason``)."""
        why = self.reason(sample)
        if why is None:
            return True
        self.rejected[why] += 1
        return False

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1


def to_number(value: object) -> object:
    """Numbers and numeric strings as float; anything else unchanged (validation rejects it)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value
