"""The store loader's SQL aggregation gives exactly the features of the raw rows."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import select

from hub.db import db
from hub.demo import generate
from hub.models import Account, Event, MetricSample, SubscriptionChange, SurveyResponse
from hub.scoring_config import default_config
from hub.scoring_history import history_start, load_history
from hub.scoring_store import Scope, load_for_scoring
from scoring import frames
from scoring.features import FeatureBuilder

AS_OF = date(2026, 11, 1)


def _raw_inputs(conn, cfg) -> frames.ScoringInputs:
    """The same inputs built in Python from every raw row (the reference)."""
    accounts = pd.DataFrame(
        [
            {
                "account_id": a.id,
                "segment": a.segment,
                "plan": a.plan,
                "mrr": a.mrr,
                "signup_day": frames.epoch_day(a.signup_date),
                "renewal_day": frames.epoch_day(a.renewal_date) if a.renewal_date else None,
                "churn_day": frames.epoch_day(a.churned_at) if a.churned_at else None,
                "nominal_hashrate_ths": a.attributes.get("nominal_hashrate_ths"),
                "target_yield_pct": a.attributes.get("target_yield_pct"),
            }
            for a in conn.execute(select(Account)).all()
        ]
    )
    events = pd.DataFrame(
        [
            (e.account_id, frames.epoch_day(e.occurred_at), e.name, e.properties.get("feature"))
            for e in conn.execute(select(Event)).all()
        ],
        columns=["account_id", "day", "name", "feature"],
    )
    samples = pd.DataFrame(
        [
            (m.account_id, m.metric, m.value, frames.epoch_day(m.measured_at))
            for m in conn.execute(select(MetricSample)).all()
        ],
        columns=["account_id", "metric", "value", "day"],
    )
    surveys = pd.DataFrame(
        [
            (s.account_id, frames.epoch_day(s.answered_at), s.kind, s.score, s.sentiment, s.comment)
            for s in conn.execute(select(SurveyResponse)).all()
        ],
        columns=list(frames.SURVEY_COLUMNS),
    )
    subs = pd.DataFrame(
        [
            (
                s.account_id,
                frames.epoch_day(s.occurred_at),
                s.kind,
                s.plan,
                s.mrr_before,
                s.mrr_after,
            )
            for s in conn.execute(select(SubscriptionChange)).all()
        ],
        columns=list(frames.SUBSCRIPTION_COLUMNS),
    )
    f = cfg.features
    return frames.ScoringInputs(
        accounts=frames.normalise_accounts(accounts),
        activity=frames.activity_from_events(events, f.active_events, f.feature_event),
        metrics=frames.metrics_from_samples(samples),
        milestones=frames.milestones_from_events(events, f.milestone_events),
        surveys=frames.typed(surveys, "surveys"),
        subscriptions=frames.typed(subs, "subscriptions"),
    )


def test_sql_buckets_and_daily_history_match_the_raw_rows(app):
    """Features from the bucketed scoring load and from the daily training load equal
    those built from every raw row, for today and for a day in the past."""
    cfg = default_config()
    day = frames.epoch_day(AS_OF)
    with app.app_context():
        with db.engine.begin() as conn:
            generate(conn, accounts=40, seed=5, days=80, as_of=AS_OF)
        with db.engine.connect() as conn:
            reference = FeatureBuilder(_raw_inputs(conn, cfg), cfg.features)
            bucketed = load_for_scoring(conn, cfg.features, day, Scope(alive_only=False))
            half = load_for_scoring(conn, cfg.features, day, Scope(lo=1, hi=20))
            history = load_history(
                conn, cfg.features, day, history_start(day, 40), Scope(alive_only=False)
            )
    expected = reference.at(day)
    pd.testing.assert_frame_equal(FeatureBuilder(bucketed, cfg.features).at(day), expected)
    daily = FeatureBuilder(history, cfg.features)
    pd.testing.assert_frame_equal(daily.at(day), expected)
    pd.testing.assert_frame_equal(daily.at(day - 20), reference.at(day - 20))
    chunk = FeatureBuilder(half, cfg.features).at(day)
    live = expected[expected["account_id"].isin(chunk["account_id"])].reset_index(drop=True)
    assert set(chunk["account_id"]) <= set(range(1, 21)) and len(chunk) > 5
    pd.testing.assert_frame_equal(chunk, live)
