"""Point-in-time features: hand-worked values, no leakage, buckets equal daily rows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from scoring import synthetic
from scoring.features import MODEL_FEATURES, FeatureBuilder, build_features
from tests.scoring.helpers import D, account, defaults, make_inputs, one


def _case(edges_for: int | None = None):
    miner = account(1, "individual_miner", renewal_day=D + 30)
    trader = account(2, "crypto_trader", signup_day=D - 10)
    gone = account(3, "mining_farm", mrr=0.0, churn_day=D - 50)
    events = [
        (1, D - 1, "session_start"),
        (1, D - 1, "session_start"),
        (1, D - 3, "session_start"),
        (1, D - 10, "session_start"),
        (1, D - 20, "session_start"),
        (1, D - 34, "session_start"),
        (1, D, "session_start"),  # the as-of day itself: not before d
        (1, D + 5, "session_start"),  # the future
        (1, D - 2, "feature_used", "rig_monitoring"),
        (1, D - 5, "feature_used", "alerts"),
        (1, D - 6, "feature_used", "alerts"),
        (1, D - 3, "feature_used", "not_a_key_feature"),
        (1, D - 31, "feature_used", "auto_tuning"),
        (1, D - 4, "optimization_run"),
        (1, D - 2, "email_opened"),
        (1, D - 2, "email_clicked"),
        (1, D - 15, "support_ticket_created"),
        (1, D - 30, "support_ticket_created"),
        (1, D - 31, "support_ticket_created"),
        (1, D - 300, "hardware_connection_complete"),
        (2, D + 1, "portfolio_connected"),  # reached after d: not yet
    ]
    metrics = [
        (1, D - 1, "hashrate_ths", 100.0),
        (1, D - 2, "hashrate_ths", 110.0),
        (1, D - 20, "hashrate_ths", 90.0),
        (1, D, "hashrate_ths", 0.0),
        (1, D - 1, "uptime_pct", 99.0),
        (1, D - 1, "efficiency_j_th", 25.0),
        (1, D - 1, "rejected_share_pct", 1.0),
        (2, D - 1, "yield_pct", 5.0),
        (2, D - 1, "portfolio_value_usd", 1000.0),
        (2, D - 3, "portfolio_value_usd", 1000.0),
        (2, D - 20, "portfolio_value_usd", 1250.0),
        (2, D - 1, "realized_pnl_usd", 10.0),
    ]
    surveys = [
        (1, D - 100, "nps", 6.0),
        (1, D - 10, "nps", 9.0, "Great support, love it"),
        (1, D, "nps", 0.0, "Terrible, leaving"),
    ]
    subscriptions = [
        (1, D - 400, "new", "starter", 0.0, 100.0),
        (1, D - 50, "expansion", "pro", 100.0, 150.0),
        (1, D + 3, "contraction", "starter", 150.0, 50.0),
    ]
    inputs = make_inputs(
        [miner, trader, gone], events, metrics, surveys, subscriptions, edges_for=edges_for
    )
    return build_features(inputs, D, defaults().features)


def test_usage_and_engagement_features_by_hand():
    """Counts use only days d-30..d-1 (or d-7..d-1); the as-of day and later are unseen."""
    row = one(_case(), 1)
    active_7 = {D - 1, D - 2, D - 3, D - 4, D - 5, D - 6}
    assert row.active_days_7 == len(active_7)
    assert row.active_days_30 == len(active_7 | {D - 10, D - 20})
    assert row.sessions_7 == 3 and row.sessions_30 == 5
    assert row.days_since_active == 1
    assert row.usage_trend == 3.0  # (3/7) / (3/28) - 1 = 3, the cap
    assert row.feature_adoption == pytest.approx(2 / 4)  # rig_monitoring, alerts
    assert row.in_app_actions_30 == 5  # four feature uses and one optimisation run
    assert (row.email_opens_30, row.email_clicks_30) == (1, 1)
    assert row.tickets_30 == 2  # d-30 counts, d-31 does not
    assert row.milestones_done == pytest.approx(0.5)


def test_performance_satisfaction_and_account_features_by_hand():
    """Rig and portfolio means, latest NPS, MRR and plan from subscription history."""
    features = _case()
    miner, trader = one(features, 1), one(features, 2)
    assert miner.hashrate_ratio == pytest.approx(105 / 110)
    assert miner.hashrate_trend == pytest.approx(105 / 90 - 1)
    assert (miner.uptime_pct, miner.efficiency_j_th, miner.rejected_share_pct) == (99, 25, 1)
    assert miner.nps_latest == 9 and miner.nps_age_days == 10
    assert miner.sentiment > 0.5 and np.isnan(miner.csat_latest)
    assert miner.mrr == 150 and miner.plan == "pro"
    assert miner.mrr_change_90d == pytest.approx(0.5)
    assert miner.days_to_renewal == 30 and miner.tenure_days == 400
    assert miner.lifecycle == "established"
    assert trader.yield_vs_target == pytest.approx(-3.0)
    assert trader.portfolio_value_change == pytest.approx(-0.2)
    assert trader.pnl_return_30d_pct == pytest.approx(100 * 10 / (3250 / 3))
    assert np.isnan(trader.hashrate_ratio)


def test_young_and_churned_accounts():
    """A 10-day-old account is onboarding with no trend yet; a churned account's current
    zero MRR is not taken as its past MRR."""
    features = _case()
    young, gone = one(features, 2), one(features, 3)
    assert young.lifecycle == "onboarding" and young.tenure_days == 10
    assert np.isnan(young.usage_trend) and young.active_days_30 == 0
    assert young.days_since_active == 10 and young.milestones_done == 0
    assert young.days_to_renewal == 355 and young.mrr == 100
    assert np.isnan(gone.mrr)


def test_window_buckets_give_the_same_features_as_daily_rows():
    """Rows summed into the as-of day's window buckets give exactly the daily features."""
    daily, bucketed = _case(), _case(edges_for=D)
    pd.testing.assert_frame_equal(daily, bucketed, check_dtype=False)


def test_bucketed_inputs_refuse_another_day():
    """Buckets cut for one as-of day cannot be read as of another."""
    inputs = make_inputs([account(1)], [(1, D - 1, "session_start")], edges_for=D)
    with pytest.raises(ValueError, match="another as-of day"):
        FeatureBuilder(inputs, defaults().features).at(D - 1)


def _before(inputs, d: int):
    keep = {
        name: getattr(inputs, name)[getattr(inputs, name)["day"] < d].reset_index(drop=True)
        for name in ("activity", "metrics", "milestones", "surveys", "subscriptions")
    }
    return replace(inputs, **keep)


@pytest.fixture(scope="module")
def tenant():
    return synthetic.generate(400, D, days=90, seed=3)


def test_no_leakage_features_as_of_d_ignore_everything_from_d_on(tenant):
    """Features as of d are the same with every row from day d on removed or scrambled."""
    cfg = defaults().features
    d = D - 25
    full = FeatureBuilder(tenant.inputs, cfg).at(d)
    cut = FeatureBuilder(_before(tenant.inputs, d), cfg).at(d)
    pd.testing.assert_frame_equal(full, cut)
    scrambled = tenant.inputs
    rng = np.random.default_rng(0)
    for name, column in (("activity", "count"), ("metrics", "total"), ("surveys", "score")):
        frame = getattr(scrambled, name).copy()
        later = frame["day"] >= d
        frame.loc[later, column] = rng.permutation(frame.loc[later, column].to_numpy()) * 3
        scrambled = replace(scrambled, **{name: frame})
    pd.testing.assert_frame_equal(full, FeatureBuilder(scrambled, cfg).at(d))


def test_no_leakage_from_the_accounts_current_state(tenant):
    """An account that churned after d looks, as of d, the same as if it had not churned:
    its current zero MRR, missing renewal date and churn day are not seen."""
    cfg = defaults().features
    d = D - 40
    accounts = tenant.inputs.accounts
    later = accounts["churn_day"] >= d
    assert later.sum() > 5
    undone = accounts.copy()
    undone.loc[later, "churn_day"] = np.nan
    undone.loc[later, "mrr"] = 999.0
    undone.loc[later, "renewal_day"] = np.nan
    subs = tenant.inputs.subscriptions
    kept = subs[~((subs["kind"] == "churn") & (subs["day"] >= d))]
    as_if = replace(tenant.inputs, accounts=undone, subscriptions=kept.reset_index(drop=True))
    a = FeatureBuilder(tenant.inputs, cfg).at(d)
    b = FeatureBuilder(as_if, cfg).at(d)
    pd.testing.assert_frame_equal(a[list(MODEL_FEATURES)], b[list(MODEL_FEATURES)])


def test_snapshots_from_one_builder_equal_separate_builds(tenant):
    """A builder reused for many days gives what a fresh build for each day gives."""
    cfg = defaults().features
    builder = FeatureBuilder(tenant.inputs, cfg)
    for d in (D - 50, D - 10, D):
        pd.testing.assert_frame_equal(builder.at(d), build_features(tenant.inputs, d, cfg))
