"""Synthetic tenants in the demo tenant's shape, generated with vectorised NumPy.

``hub.demo`` writes a realistic tenant row by row (right for a demo, slow for a million
accounts). This generator draws the same kind of tenant (segments, plans, latent health,
usage that declines before churn, rig and portfolio metrics, NPS, subscriptions) directly as
scoring frames, in chunks of accounts, for benchmarks and tests. It is not the demo: same
shape, different random draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring import frames
from scoring.frames import ScoringInputs

SEGMENTS = np.array(["individual_miner", "mining_farm", "crypto_trader", "institution"])
SEGMENT_MIX = np.array([0.4, 0.25, 0.25, 0.10])
PLANS = {
    "individual_miner": (("starter", 49.0), ("pro", 149.0)),
    "mining_farm": (("pro", 499.0), ("enterprise", 1999.0)),
    "crypto_trader": (("starter", 79.0), ("pro", 249.0)),
    "institution": (("enterprise", 4999.0), ("enterprise_plus", 9999.0)),
}
KEY_FEATURES = {
    "individual_miner": ("rig_monitoring", "auto_tuning", "profit_calculator", "alerts"),
    "mining_farm": ("fleet_dashboard", "auto_tuning", "power_scheduling", "alerts", "reports"),
    "crypto_trader": ("portfolio_tracker", "trade_signals", "tax_reports", "alerts"),
    "institution": ("portfolio_tracker", "compliance_reports", "api_access", "audit_trail"),
}
MILESTONES = {
    "individual_miner": ("hardware_connection_complete", "first_optimization_complete"),
    "mining_farm": ("hardware_connection_complete", "first_optimization_complete"),
    "crypto_trader": ("portfolio_connected", "first_strategy_backtest"),
    "institution": ("portfolio_connected", "compliance_report_generated"),
}
MINING = np.array([True, True, False, False])


@dataclass
class Tenant:
    """A synthetic tenant as scoring inputs (daily frames) plus its latent health."""

    inputs: ScoringInputs
    health: np.ndarray
    as_of_day: int


def generate(
    accounts: int,
    as_of_day: int,
    days: int = 60,
    seed: int = 7,
    first_id: int = 1,
) -> Tenant:
    """``accounts`` accounts with ``days`` days of daily history before ``as_of_day``."""
    rng = np.random.default_rng([seed, first_id])
    n = accounts
    ids = np.arange(first_id, first_id + n, dtype="int64")
    seg = rng.choice(4, size=n, p=SEGMENT_MIX)
    upper = rng.random(n) < 0.35
    plan_names = np.array([[p[0] for p in PLANS[s]] for s in SEGMENTS], dtype=object)
    plan_mrr = np.array([[p[1] for p in PLANS[s]] for s in SEGMENTS])
    mrr = np.round(plan_mrr[seg, upper.astype(int)] * rng.uniform(0.9, 1.3, n), 2)
    signup = as_of_day - rng.integers(5, days + 365, n)
    health = rng.beta(4, 2, n)
    tenure = as_of_day - signup
    churns = (tenure > 45) & (rng.random(n) < 0.18 + 0.3 * (1 - health))
    churn_day = np.where(churns, as_of_day - rng.integers(1, days, n), -1)
    churns &= churn_day > signup + 30
    churn_day = np.where(churns, churn_day, -1)
    accounts_frame = pd.DataFrame(
        {
            "account_id": ids,
            "segment": SEGMENTS[seg].astype(object),
            "plan": plan_names[seg, upper.astype(int)],
            "mrr": np.where(churns, 0.0, mrr),
            "signup_day": signup.astype("float64"),
            "renewal_day": np.where(
                churns, np.nan, signup + 365 * (1 + (as_of_day - signup) // 365)
            ).astype("float64"),
            "churn_day": np.where(churns, churn_day, np.nan),
            "nominal_hashrate_ths": np.where(MINING[seg], 110.0 * (1 + 20 * (seg == 1)), np.nan),
            "target_yield_pct": np.where(MINING[seg], np.nan, 8.0),
        }
    )
    day0 = as_of_day - days
    grid_days = np.arange(day0, as_of_day)
    # probability of activity per account and day
    p = np.broadcast_to((0.25 + 0.65 * health)[:, None], (n, days)).astype("float32").copy()
    lead = churn_day[:, None] - grid_days[None, :]
    declining = churns[:, None] & (lead >= 0) & (lead < 45)
    p = np.where(declining, p * (0.15 + 0.85 * lead / 45), p)
    p = np.where(churns[:, None] & (lead < 0), 0.0, p)
    age = grid_days[None, :] - signup[:, None]
    p = np.where((age >= 0) & (age < 14), np.maximum(p, 0.6), p)
    p = np.where(age < 0, 0.0, p)
    active = rng.random((n, days), dtype="float32") < p
    del p, lead, declining
    rows, cols = np.nonzero(active)
    del active
    h = health[rows]
    sessions = 1 + rng.poisson(1 + 2 * h)
    n_feat = np.array([len(KEY_FEATURES[s]) for s in SEGMENTS])
    adopted = np.maximum(1, np.round(n_feat[seg] * (0.3 + 0.7 * health))).astype(int)
    feat_idx = (rng.random(len(rows)) * adopted[rows]).astype(int)
    feature_names = np.array(
        [[*KEY_FEATURES[s], *([""] * (5 - len(KEY_FEATURES[s])))] for s in SEGMENTS], dtype=object
    )
    feature = feature_names[seg[rows], feat_idx]
    day = grid_days[cols]
    acc = ids[rows]
    mining_row = MINING[seg[rows]]
    parts = [
        pd.DataFrame(
            {
                "account_id": acc,
                "day": day,
                "event": "session_start",
                "feature": None,
                "count": sessions,
            }
        ),
        pd.DataFrame(
            {
                "account_id": acc,
                "day": day,
                "event": "feature_used",
                "feature": feature,
                "count": sessions,
            }
        ),
    ]
    for event, chance in (
        ("email_opened", np.full(len(rows), 0.15)),
        ("optimization_run", np.where(mining_row, 0.1 + 0.2 * h, 0.0)),
        ("support_ticket_created", 0.02 + 0.06 * (1 - h)),
    ):
        hit = rng.random(len(rows)) < chance
        parts.append(
            pd.DataFrame(
                {
                    "account_id": acc[hit],
                    "day": day[hit],
                    "event": event,
                    "feature": None,
                    "count": 1,
                }
            )
        )
        if event == "email_opened":
            click = hit & (rng.random(len(rows)) < 0.4)
            parts.append(
                pd.DataFrame(
                    {
                        "account_id": acc[click],
                        "day": day[click],
                        "event": "email_clicked",
                        "feature": None,
                        "count": 1,
                    }
                )
            )
    daily = pd.concat(parts, ignore_index=True)
    activity = frames.activity_from_daily(
        daily, ("session_start", "feature_used", "optimization_run")
    )
    return Tenant(
        inputs=ScoringInputs(
            accounts=frames.normalise_accounts(accounts_frame),
            activity=activity,
            metrics=_metrics(rng, ids, seg, health, signup, churns, churn_day, grid_days),
            milestones=_milestones(rng, ids, seg, health, signup, as_of_day),
            surveys=_surveys(rng, ids, health, signup, churns, churn_day, grid_days),
            subscriptions=_subscriptions(
                ids, seg, upper, mrr, signup, churns, churn_day, plan_names
            ),
        ),
        health=health,
        as_of_day=as_of_day,
    )


def _live_days(signup, churns, churn_day, grid_days):
    end = np.where(churns, churn_day, grid_days[-1] + 1)
    return (grid_days[None, :] >= signup[:, None]) & (grid_days[None, :] < end[:, None])


def _metrics(rng, ids, seg, health, signup, churns, churn_day, grid_days) -> pd.DataFrame:
    live = _live_days(signup, churns, churn_day, grid_days)
    rows, cols = np.nonzero(live)
    del live
    h = health[rows]
    lead = churn_day[rows] - grid_days[cols]
    decline = np.where(churns[rows] & (lead < 45), 0.7 + 0.3 * lead / 45, 1.0)
    mining = MINING[seg[rows]]
    nominal = 110.0 * (1 + 20 * (seg[rows] == 1))
    base = np.where(seg[rows] == 2, 50_000.0, 5_000_000.0)
    m = len(rows)
    values = {
        "hashrate_ths": nominal
        * np.minimum(1.02, (0.75 + 0.25 * h) * decline * rng.normal(1, 0.03, m)),
        "efficiency_j_th": 21.5 + 8 * (1 - h) + rng.normal(0, 0.5, m),
        "uptime_pct": np.minimum(100.0, 100 * (0.85 + 0.15 * h) * decline + rng.normal(0, 1, m)),
        "rejected_share_pct": np.maximum(
            0.0, 0.3 + 2.5 * (1 - h) * (2 - decline) + rng.normal(0, 0.1, m)
        ),
        "portfolio_value_usd": base * (0.6 + 0.8 * h) * decline,
        "yield_pct": 2 + 10 * h * decline + rng.normal(0, 0.8, m),
        "realized_pnl_usd": base * 0.001 * rng.normal(h - 0.4, 1, m),
    }
    out = []
    for metric, v in values.items():
        keep = (
            mining
            if metric in ("hashrate_ths", "efficiency_j_th", "uptime_pct", "rejected_share_pct")
            else ~mining
        )
        out.append(
            pd.DataFrame(
                {
                    "account_id": ids[rows[keep]],
                    "day": grid_days[cols[keep]],
                    "metric": metric,
                    "total": v[keep],
                    "n": 1,
                }
            )
        )
    return frames.typed(pd.concat(out, ignore_index=True), "metrics")


def _milestones(rng, ids, seg, health, signup, as_of_day) -> pd.DataFrame:
    out = []
    for i in range(2):
        day = signup + rng.integers(1, 10, len(ids)) + 7 * i
        hit = (health > 0.35) & (day < as_of_day)
        names = np.array([MILESTONES[s][i] for s in SEGMENTS], dtype=object)
        out.append(
            pd.DataFrame({"account_id": ids[hit], "event": names[seg[hit]], "day": day[hit]})
        )
    return frames.typed(pd.concat(out, ignore_index=True), "milestones")


def _surveys(rng, ids, health, signup, churns, churn_day, grid_days) -> pd.DataFrame:
    live = _live_days(signup, churns, churn_day, grid_days)
    due = live & (((grid_days[None, :] - signup[:, None]) % 90) == 14)
    rows, cols = np.nonzero(due)
    keep = rng.random(len(rows)) < 0.6
    rows, cols = rows[keep], cols[keep]
    score = np.clip(np.round(rng.normal(3 + 7 * health[rows], 1.5)), 0, 10)
    comment = np.where(
        score >= 9,
        "Great hashrate gains, support is quick",
        np.where(score <= 6, "Dashboard is slow and alerts are noisy", None),
    )
    return frames.typed(
        pd.DataFrame(
            {
                "account_id": ids[rows],
                "day": grid_days[cols],
                "kind": "nps",
                "score": score,
                "sentiment": np.nan,
                "comment": comment.astype(object),
            }
        ),
        "surveys",
    )


def _subscriptions(ids, seg, upper, mrr, signup, churns, churn_day, plan_names) -> pd.DataFrame:
    plan = plan_names[seg, upper.astype(int)]
    new = pd.DataFrame(
        {
            "account_id": ids,
            "day": signup,
            "kind": "new",
            "plan": plan,
            "mrr_before": 0.0,
            "mrr_after": mrr,
        }
    )
    gone = pd.DataFrame(
        {
            "account_id": ids[churns],
            "day": churn_day[churns],
            "kind": "churn",
            "plan": plan[churns],
            "mrr_before": mrr[churns],
            "mrr_after": 0.0,
        }
    )
    return frames.typed(pd.concat([new, gone], ignore_index=True), "subscriptions")
