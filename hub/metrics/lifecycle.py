"""Retention by signup cohort, the cohort retention table, logo churn and customer lifespan."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from hub.metrics.base import ALL, AccountRow, Figure, Scope, Split

RETENTION_MARKS = (30, 90, 365)
COHORT_MONTHS = 12


def alive_at(account: AccountRow, day: date) -> bool:
    """Still a customer at the end of ``day``."""
    return account.churned is None or account.churned > day


def retention(scope: Scope, accounts: list[AccountRow], days: int) -> dict[str, Figure]:
    """Of accounts whose ``days``-day mark fell in the period, the share alive at that mark."""
    split = Split()
    first_signup = scope.period.start - timedelta(days=days)
    last_signup = scope.period.end - timedelta(days=days)
    for a in accounts:
        if a.signup is None or not first_signup <= a.signup <= last_signup:
            continue
        split.add(a.segment, 1.0 if alive_at(a, a.signup + timedelta(days=days)) else 0.0)
    return split.result(scope.keys)


def churn_and_lifespan(
    scope: Scope, accounts: list[AccountRow]
) -> tuple[dict[str, Figure], dict[str, Figure]]:
    """Logo churn per 30 days over the period, and lifespan = 1 / that rate (months)."""
    period = scope.period
    churned, at_start = Split(), Split()
    tenure: dict[str, list[int]] = defaultdict(list)
    for a in accounts:
        if a.signup is None or a.signup >= period.start:
            continue
        if a.churned is not None and a.churned < period.start:
            continue
        lost = a.churned is not None and a.churned <= period.end
        churned.add(a.segment, 1.0 if lost else 0.0)
        at_start.add(a.segment, 0.0)
        if lost:
            tenure[a.segment].append((a.churned - a.signup).days)
    scale = 30.0 / period.days
    rates: dict[str, Figure] = {}
    lifespans: dict[str, Figure] = {}
    for key, fig in churned.result(scope.keys).items():
        if fig.value is None:
            rates[key] = lifespans[key] = Figure(None, 0)
            continue
        rate = fig.value * scale
        rates[key] = Figure(rate, fig.n)
        lost_tenures = (
            [t for ts in tenure.values() for t in ts] if key == ALL else tenure.get(key, [])
        )
        if rate > 0:
            note = None
            if lost_tenures:
                mean_days = sum(lost_tenures) / len(lost_tenures)
                note = f"accounts lost in the period had been customers {mean_days:.0f} days"
            lifespans[key] = Figure(1.0 / rate, fig.n, note)
        else:
            lifespans[key] = Figure(None, fig.n, "no account churned in the period")
    return rates, lifespans


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for candidate_day in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate_day))
        except ValueError:
            continue
    raise ValueError(day)  # unreachable: the 28th exists in every month


def marks_before(signup: date, day: date, inclusive: bool) -> int:
    """How many monthly marks (signup + k months, k = 0, 1, ...) fall before ``day``
    (or on it, when ``inclusive``)."""
    months = (day.year - signup.year) * 12 + day.month - signup.month
    while months >= 0:
        mark = add_months(signup, months)
        if mark < day or (inclusive and mark == day):
            return months + 1
        months -= 1
    return 0


def cohort_table(
    scope: Scope, accounts: list[AccountRow], months: int = COHORT_MONTHS
) -> dict[str, dict[str, Any]]:
    """Per key: monthly signup cohorts (the last ``months`` up to the period end) and, for each
    month since signup, the share still a customer (None where not yet observable)."""
    end = scope.period.end
    first_month = add_months(date(end.year, end.month, 1), -(months - 1))
    width = months + 1
    # per key and cohort label: [size, observed per month, alive per month]
    tables: dict[str, dict[str, list]] = defaultdict(dict)
    for a in accounts:
        if a.signup is None or a.signup < first_month or a.signup > end:
            continue
        observed = min(width, marks_before(a.signup, end, inclusive=True))
        alive = observed
        if a.churned is not None:
            alive = min(observed, marks_before(a.signup, a.churned, inclusive=False))
        label = f"{a.signup.year:04d}-{a.signup.month:02d}"
        for key in (a.segment, ALL) if not scope.segment else (a.segment,):
            row = tables[key].setdefault(label, [0, [0] * width, [0] * width])
            row[0] += 1
            for k in range(observed):
                row[1][k] += 1
                if k < alive:
                    row[2][k] += 1
    out: dict[str, dict[str, Any]] = {}
    for key in scope.keys:
        rows = []
        for label, (size, observed, alive) in sorted(tables[key].items()):
            shares = [round(a / o, 4) if o else None for a, o in zip(alive, observed, strict=True)]
            rows.append({"cohort": label, "size": size, "retention": shares})
        out[key] = {"months": list(range(width)), "rows": rows}
    return out
