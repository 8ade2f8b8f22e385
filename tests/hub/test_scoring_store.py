"""The store loader's SQL aggregation gives exactly the features of the raw rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import select

from hub import scoring_rollup
from hub.db import db
from hub.demo import generate
from hub.models import Account, Event, MetricSample, SubscriptionChange, SurveyResponse
from hub.scoring_config import default_config
from hub.scoring_history import history_start, load_history
from hub.scoring_store import Scope, load_for_scoring, load_milestones, load_milestones_in
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


def test_milestones_of_several_ranges_in_one_load(app):
    """Milestones read once for several id ranges are each range's milestones, and a scope
    loaded with them builds the features it builds reading its own."""
    cfg = default_config()
    day = frames.epoch_day(AS_OF)
    ranges = [(2, 8), (10, 20), (30, 40)]
    with app.app_context():
        with db.engine.begin() as conn:
            generate(conn, accounts=40, seed=5, days=80, as_of=AS_OF)
        with db.engine.connect() as conn:
            together = load_milestones_in(conn, cfg.features, day, ranges)
            apart = [load_milestones(conn, cfg.features, day, Scope(lo=a, hi=b)) for a, b in ranges]
            own = load_for_scoring(conn, cfg.features, day, Scope(lo=10, hi=20))
            shared = load_for_scoring(conn, cfg.features, day, Scope(lo=10, hi=20), together)
    keys = list(frames.MILESTONE_COLUMNS)
    expected = frames.typed(pd.concat(apart, ignore_index=True), "milestones")
    expected = expected.sort_values(keys[:2], ignore_index=True)
    assert set(expected["account_id"]) == {3, 8, 11, 34}  # not 9, between the ranges
    pd.testing.assert_frame_equal(together.sort_values(keys[:2], ignore_index=True), expected)
    pd.testing.assert_frame_equal(
        FeatureBuilder(shared, cfg.features).at(day), FeatureBuilder(own, cfg.features).at(day)
    )


def test_daily_rollups_give_the_same_features_and_pick_up_late_rows(app):
    """Once rolled up, the loaders read the roll-ups and get exactly the raw features; an
    event arriving late for a past day stops the roll-ups being used until the day is
    rolled up again, and then it is counted."""
    cfg = default_config()
    day = frames.epoch_day(AS_OF)
    start = history_start(day, 40)
    with app.app_context():
        with db.engine.begin() as conn:
            generate(conn, accounts=30, seed=6, days=80, as_of=AS_OF)
        engine = db.engine
        with engine.connect() as conn:
            assert not scoring_rollup.covers(conn, cfg.features, start, day)
            raw_now = load_for_scoring(conn, cfg.features, day, Scope(alive_only=False))
            raw_history = load_history(conn, cfg.features, day, start, Scope(alive_only=False))
        first = scoring_rollup.ensure(engine, cfg.features, start, day)
        assert first["events"]["days_rolled"] == day - start
        again = scoring_rollup.ensure(engine, cfg.features, start, day)
        if engine.dialect.name == "sqlite":  # nothing new since (and no id margin on SQLite)
            assert again["events"]["days_rolled"] == 0
        with engine.connect() as conn:
            assert scoring_rollup.covers(conn, cfg.features, start, day)
            rolled_now = load_for_scoring(conn, cfg.features, day, Scope(alive_only=False))
            rolled_history = load_history(conn, cfg.features, day, start, Scope(alive_only=False))
        builder = FeatureBuilder(raw_history, cfg.features)
        pd.testing.assert_frame_equal(
            FeatureBuilder(rolled_now, cfg.features).at(day),
            FeatureBuilder(raw_now, cfg.features).at(day),
        )
        for d in (day, day - 15):
            pd.testing.assert_frame_equal(
                FeatureBuilder(rolled_history, cfg.features).at(d), builder.at(d)
            )
        account = db.session.scalar(select(Account).where(Account.churned_at.is_(None)))
        late = datetime.combine(AS_OF - timedelta(days=20), datetime.min.time(), tzinfo=UTC)
        db.session.add(
            Event(
                account_id=account.id,
                name="support_ticket_created",
                occurred_at=late + timedelta(hours=9),
                properties={},
                source="late",
                source_event_id="late-1",
            )
        )
        db.session.commit()
        with engine.connect() as conn:
            assert not scoring_rollup.covers(conn, cfg.features, start, day)
        redo = scoring_rollup.ensure(engine, cfg.features, start, day)
        assert redo["events"]["days_rolled"] >= 1
        with engine.connect() as conn:
            assert scoring_rollup.covers(conn, cfg.features, start, day)
            after = load_for_scoring(conn, cfg.features, day, Scope(lo=account.id, hi=account.id))
        tickets = FeatureBuilder(after, cfg.features).at(day)["tickets_30"].iloc[0]
        before = FeatureBuilder(rolled_now, cfg.features).at(day)
        assert tickets == before.set_index("account_id").loc[account.id, "tickets_30"] + 1
