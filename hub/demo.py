"""A deterministic demo tenant: accounts in four segments, contacts, product events,
rig and portfolio metric samples, subscriptions, NPS answers; some accounts churn after
their usage declines. Same seed and as-of date, same data. Also the benchmark input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from hub.models import (
    Account,
    Contact,
    Event,
    MetricSample,
    SubscriptionChange,
    SurveyResponse,
)

SEGMENT_MIX = {
    "individual_miner": 0.4,
    "mining_farm": 0.25,
    "crypto_trader": 0.25,
    "institution": 0.10,
}
PLANS = {
    "individual_miner": [("starter", 49), ("pro", 149)],
    "mining_farm": [("pro", 499), ("enterprise", 1999)],
    "crypto_trader": [("starter", 79), ("pro", 249)],
    "institution": [("enterprise", 4999), ("enterprise_plus", 9999)],
}
KEY_FEATURES = {
    "individual_miner": ["rig_monitoring", "auto_tuning", "profit_calculator", "alerts"],
    "mining_farm": ["fleet_dashboard", "auto_tuning", "power_scheduling", "alerts", "reports"],
    "crypto_trader": ["portfolio_tracker", "trade_signals", "tax_reports", "alerts"],
    "institution": ["portfolio_tracker", "compliance_reports", "api_access", "audit_trail"],
}
MILESTONES = {
    "individual_miner": ["hardware_connection_complete", "first_optimization_complete"],
    "mining_farm": ["hardware_connection_complete", "first_optimization_complete"],
    "crypto_trader": ["portfolio_connected", "first_strategy_backtest"],
    "institution": ["portfolio_connected", "compliance_report_generated"],
}
MINING = {"individual_miner", "mining_farm"}
OWNERS = ["ana@cshub.example", "ben@cshub.example", "chen@cshub.example", "dara@cshub.example"]
WORDS = [
    "Hash",
    "Block",
    "Volt",
    "Nord",
    "Arc",
    "Peak",
    "Delta",
    "Polar",
    "Iron",
    "Quartz",
    "Summit",
    "Atlas",
    "Nova",
    "Orbit",
    "Cobalt",
    "Zen",
]
SUFFIX = {
    "individual_miner": "Mining",
    "mining_farm": "Farms",
    "crypto_trader": "Capital",
    "institution": "Asset Management",
}


@dataclass
class DemoSummary:
    accounts: int
    contacts: int
    events: int
    metric_samples: int
    churned: int
    survey_responses: int
    fingerprint: str


def generate(
    conn: Connection,
    accounts: int = 300,
    seed: int = 7,
    days: int = 180,
    as_of: date | None = None,
    batch_size: int = 20_000,
) -> DemoSummary:
    """Insert a demo tenant into an empty database over ``conn``; return what was made."""
    if conn.execute(select(Account.id).limit(1)).first() is not None:
        raise ValueError("the database already holds accounts; demo data goes into an empty one")
    as_of = as_of or datetime.now(UTC).date()
    rng = np.random.default_rng(seed)
    digest = hashlib.sha256()
    counts = {"contacts": 0, "events": 0, "metric_samples": 0, "survey_responses": 0}
    # parents first: a flush writes every pending table in this order
    pending: dict[type, list[dict]] = {
        Contact: [],
        SubscriptionChange: [],
        Event: [],
        MetricSample: [],
        SurveyResponse: [],
    }

    def flush(force: bool = False) -> None:
        if not force and max(len(rows) for rows in pending.values()) < batch_size:
            return
        for model, rows in pending.items():
            if rows:
                conn.execute(insert(model), rows)
                rows.clear()

    segments = rng.choice(list(SEGMENT_MIX), size=accounts, p=list(SEGMENT_MIX.values()))
    account_rows = []
    plan_of: list[tuple[str, float]] = []
    fates = []
    for i in range(accounts):
        segment = str(segments[i])
        plan, mrr = PLANS[segment][int(rng.random() < 0.35)]
        mrr = float(round(mrr * rng.uniform(0.9, 1.3), 2))
        signup = as_of - timedelta(days=int(rng.integers(5, days + 365)))
        health = float(rng.beta(4, 2))  # latent health, drives activity
        churn_day = None
        if (as_of - signup).days > 45 and rng.random() < 0.18 + 0.3 * (1 - health):
            churn_day = as_of - timedelta(days=int(rng.integers(1, days)))
            if churn_day <= signup + timedelta(days=30):
                churn_day = None
        name = (
            f"{WORDS[i % len(WORDS)]}{WORDS[(i // len(WORDS)) % len(WORDS)].lower()} "
            f"{SUFFIX[segment]} {i + 1}"
        )
        renewal = signup + timedelta(days=365 * (1 + (as_of - signup).days // 365))
        account_rows.append(
            {
                "id": i + 1,
                "salesforce_id": f"001DEMO{i + 1:011d}",
                "stripe_customer_id": f"cus_demo{i + 1:08d}",
                "name": name,
                "domain": f"{name.split()[0].lower()}{i + 1}.example",
                "segment": segment,
                "plan": plan,
                "mrr": 0 if churn_day else mrr,
                "signup_date": signup,
                "renewal_date": None if churn_day else renewal,
                "churned_at": _at(churn_day, 12) if churn_day else None,
                "owner_email": OWNERS[i % len(OWNERS)],
                "lifecycle_stage": _stage(signup, as_of, churn_day),
                "status": "churned" if churn_day else "active",
                "timezone": ["UTC", "America/New_York", "Europe/Berlin", "Asia/Singapore"][i % 4],
                "attributes": {
                    "nominal_hashrate_ths": 110.0 * (1 + 20 * (segment == "mining_farm"))
                }
                if segment in MINING
                else {"target_yield_pct": 8.0},
                "cohorts": [],
            }
        )
        plan_of.append((plan, mrr))
        fates.append((health, churn_day))
    conn.execute(insert(Account), account_rows)
    digest.update(repr([(r["name"], r["segment"], r["churned_at"]) for r in account_rows]).encode())

    contact_id = 0
    for i, row in enumerate(account_rows):
        account_id = row["id"]
        segment = row["segment"]
        health, churn_day = fates[i]
        plan, mrr = plan_of[i]
        signup: date = row["signup_date"]
        contact_ids = []
        for c in range(int(rng.integers(1, 4 if segment != "institution" else 6))):
            contact_id += 1
            contact_ids.append(contact_id)
            pending[Contact].append(
                {
                    "id": contact_id,
                    "account_id": account_id,
                    "email": f"user{c + 1}@{row['domain']}",
                    "name": f"User {c + 1} {row['name']}",
                    "mixpanel_distinct_id": f"u-{contact_id}",
                    "timezone": row["timezone"],
                    "role": ["owner", "operator", "analyst", "finance", "it"][c % 5],
                    "unsubscribed": [],
                    "attributes": {},
                    "cohorts": [],
                    "salesforce_id": f"003DEMO{contact_id:011d}",
                }
            )
        counts["contacts"] += len(contact_ids)
        pending[SubscriptionChange].append(
            {
                "account_id": account_id,
                "occurred_at": _at(signup, 9),
                "kind": "new",
                "plan": plan,
                "mrr_before": 0,
                "mrr_after": mrr,
                "source": "demo",
                "source_event_id": f"demo-new-{account_id}",
            }
        )
        if churn_day:
            pending[SubscriptionChange].append(
                {
                    "account_id": account_id,
                    "occurred_at": _at(churn_day, 12),
                    "kind": "churn",
                    "plan": plan,
                    "mrr_before": mrr,
                    "mrr_after": 0,
                    "source": "demo",
                    "source_event_id": f"demo-churn-{account_id}",
                }
            )
        for e in _events(
            rng, account_id, segment, signup, as_of, days, health, churn_day, contact_ids
        ):
            pending[Event].append(e)
            counts["events"] += 1
        for m in _metrics(rng, account_id, segment, signup, as_of, days, health, churn_day):
            pending[MetricSample].append(m)
            counts["metric_samples"] += 1
        for s in _nps(rng, account_id, signup, as_of, days, health, churn_day, contact_ids):
            pending[SurveyResponse].append(s)
            counts["survey_responses"] += 1
        flush()
    flush(force=True)
    _advance_sequences(conn, (Account, Contact))
    digest.update(repr(sorted(counts.items())).encode())
    return DemoSummary(
        accounts=accounts,
        churned=sum(1 for _, c in fates if c),
        fingerprint=digest.hexdigest()[:16],
        **counts,
    )


def _advance_sequences(conn: Connection, models: tuple[type, ...]) -> None:
    """PostgreSQL: move id sequences past the explicit ids the demo inserted."""
    if conn.dialect.name != "postgresql":
        return
    for model in models:
        table = model.__tablename__
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        )


def _at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour % 24, minute % 60), tzinfo=UTC)


def _stage(signup: date, as_of: date, churn_day: date | None) -> str:
    if churn_day:
        return "churned"
    age = (as_of - signup).days
    return (
        "onboarding"
        if age < 30
        else "adoption"
        if age < 120
        else "expansion"
        if age < 400
        else "advocacy"
    )


def _activity(health: float, day: date, churn_day: date | None, signup: date) -> float:
    """Probability of being active on ``day``: falls over the 45 days before churn."""
    p = 0.25 + 0.65 * health
    if churn_day:
        lead = (churn_day - day).days
        if lead < 0:
            return 0.0
        if lead < 45:
            p *= 0.15 + 0.85 * lead / 45
    if (day - signup).days < 14:
        p = max(p, 0.6)
    return p


def _window(signup: date, as_of: date, days: int, churn_day: date | None) -> Iterator[date]:
    start = max(signup, as_of - timedelta(days=days))
    end = churn_day or as_of
    for n in range((end - start).days):
        yield start + timedelta(days=n)


def _events(rng, account_id, segment, signup, as_of, days, health, churn_day, contact_ids):
    features = KEY_FEATURES[segment]
    adopted = features[: max(1, round(len(features) * (0.3 + 0.7 * health)))]
    for milestone_index, milestone in enumerate(MILESTONES[segment]):
        reach_after = int(rng.integers(1, 10)) + 7 * milestone_index
        if health > 0.35 and signup + timedelta(days=reach_after) < as_of:
            day = signup + timedelta(days=reach_after)
            if day >= as_of - timedelta(days=days):
                yield _event(
                    account_id, contact_ids[0], milestone, _at(day, 10), {}, milestone, day
                )
    for day in _window(signup, as_of, days, churn_day):
        if rng.random() > _activity(health, day, churn_day, signup):
            continue
        sessions = 1 + int(rng.poisson(1 + 2 * health))
        for s in range(sessions):
            contact = contact_ids[int(rng.integers(0, len(contact_ids)))]
            ts = _at(day, 8 + 3 * s, int(rng.integers(0, 60)))
            yield _event(account_id, contact, "session_start", ts, {}, f"s{s}", day)
            feature = adopted[int(rng.integers(0, len(adopted)))]
            yield _event(
                account_id,
                contact,
                "feature_used",
                ts + timedelta(minutes=2),
                {"feature": feature},
                f"f{s}",
                day,
            )
        if rng.random() < 0.15:
            yield _event(account_id, contact_ids[0], "email_opened", _at(day, 7), {}, "eo", day)
            if rng.random() < 0.4:
                yield _event(
                    account_id, contact_ids[0], "email_clicked", _at(day, 7, 5), {}, "ec", day
                )
        if segment in MINING and rng.random() < 0.1 + 0.2 * health:
            yield _event(account_id, contact_ids[0], "optimization_run", _at(day, 14), {}, "o", day)
        if rng.random() < 0.02 + 0.06 * (1 - health):
            yield _event(
                account_id,
                contact_ids[0],
                "support_ticket_created",
                _at(day, 16),
                {"priority": "high" if rng.random() < 0.3 else "normal"},
                "t",
                day,
            )


def _event(account_id, contact_id, name, ts, props, tag, day):
    return {
        "account_id": account_id,
        "contact_id": contact_id,
        "name": name,
        "occurred_at": ts,
        "properties": props,
        "source": "demo",
        "source_event_id": f"{account_id}-{day.isoformat()}-{tag}",
        "distinct_id": f"u-{contact_id}",
    }


def _metrics(rng, account_id, segment, signup, as_of, days, health, churn_day):
    for day in _window(signup, as_of, days, churn_day):
        decline = 1.0
        if churn_day and (churn_day - day).days < 45:
            decline = 0.7 + 0.3 * (churn_day - day).days / 45
        ts = _at(day, 23, 59)
        if segment in MINING:
            nominal = 110.0 * (1 + 20 * (segment == "mining_farm"))
            hashrate = nominal * min(1.02, (0.75 + 0.25 * health) * decline * rng.normal(1, 0.03))
            values = {
                "hashrate_ths": hashrate,
                "efficiency_j_th": 21.5 + 8 * (1 - health) + rng.normal(0, 0.5),
                "uptime_pct": min(100.0, 100 * (0.85 + 0.15 * health) * decline + rng.normal(0, 1)),
                "rejected_share_pct": max(
                    0.0, 0.3 + 2.5 * (1 - health) * (2 - decline) + rng.normal(0, 0.1)
                ),
            }
        else:
            base = 50_000 if segment == "crypto_trader" else 5_000_000
            values = {
                "portfolio_value_usd": base * (0.6 + 0.8 * health) * decline,
                "yield_pct": 2 + 10 * health * decline + rng.normal(0, 0.8),
                "realized_pnl_usd": base * 0.001 * rng.normal(health - 0.4, 1),
            }
        for metric, value in values.items():
            yield {
                "account_id": account_id,
                "source": "demo",
                "subject": "",
                "metric": metric,
                "value": float(value),
                "measured_at": ts,
            }


def _nps(rng, account_id, signup, as_of, days, health, churn_day, contact_ids):
    for day in _window(signup, as_of, days, churn_day):
        if (day - signup).days % 90 == 14 and rng.random() < 0.6:
            score = int(np.clip(round(rng.normal(3 + 7 * health, 1.5)), 0, 10))
            comment = (
                "Great hashrate gains, support is quick"
                if score >= 9
                else "Dashboard is slow and alerts are noisy"
                if score <= 6
                else None
            )
            yield {
                "account_id": account_id,
                "contact_id": contact_ids[0],
                "kind": "nps",
                "score": score,
                "comment": comment,
                "topics": [],
                "extra": {},
                "answered_at": _at(day, 11),
            }
