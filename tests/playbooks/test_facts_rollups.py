"""Facts loading: metric windows read from the scoring roll-ups give the facts of the raw
rows; the latest two scores are the newest as of ``now``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from hub import scoring_rollup
from hub.db import db
from hub.demo import generate
from hub.models import Event, HealthScore
from hub.playbooks import loader
from hub.playbooks.engine import needs_of
from hub.playbooks.facts import Needs
from hub.playbooks.queries import load_facts, rollup_config
from hub.scoring_config import default_config
from scoring import frames
from tests.playbooks.conftest import add_account

AS_OF = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _metrics(session: Session, needs, rollups) -> dict:
    facts, _ = load_facts(session, 1, 10**9, NOW, needs, 0, rollups=rollups)
    return {a: f.metrics for a, f in facts.items() if f.metrics}


def test_rollups_give_the_metric_facts_of_the_raw_rows(app):
    features = default_config().features
    day = frames.epoch_day(AS_OF)
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            generate(conn, accounts=60, seed=3, days=45, as_of=AS_OF)
        needs = needs_of(loader.live(db.session), loader.milestone_config())
        assert {w.metric for w in needs.metrics} >= {"usage", "hashrate_ths", "yield_pct"}
        with Session(engine) as session:
            assert rollup_config(session, needs, NOW) is None  # nothing rolled up yet
            raw = _metrics(session, needs, None)
        scoring_rollup.ensure(engine, features, day - 35, day)
        with Session(engine) as session:
            rollups = rollup_config(session, needs, NOW)
            assert rollups == features
            rolled = _metrics(session, needs, rollups)
        assert len(raw) > 30
        assert rolled.keys() == raw.keys()
        for account_id, windows in raw.items():
            assert rolled[account_id].keys() == windows.keys()
            for window, stats in windows.items():
                got = rolled[account_id][window]
                assert got.recent_days == stats.recent_days
                for name in ("baseline", "recent_max", "recent_min", "recent_mean"):
                    want = getattr(stats, name)
                    assert getattr(got, name) == (want if want is None else pytest.approx(want))

        with engine.begin() as conn:  # a late event for yesterday: back to the raw rows
            conn.execute(
                Event.__table__.insert(),
                {
                    "account_id": 1,
                    "name": "session_start",
                    "occurred_at": NOW - timedelta(days=1),
                    "properties": {},
                    "source": "product",
                    "source_event_id": "late-1",
                },
            )
        with Session(engine) as session:
            assert rollup_config(session, needs, NOW) is None


def test_latest_two_scores_are_the_newest_as_of_now_ties_by_id(app):
    with app.app_context():
        engine = db.engine
        with Session(engine) as session:
            scored, unscored = add_account(session).id, add_account(session).id
            for hours, score in ((-72, 80.0), (-24, 60.0), (-24, 40.0), (-48, 90.0), (5, 10.0)):
                session.add(
                    HealthScore(
                        account_id=scored,
                        score=score,
                        tier=f"t{int(score)}",
                        computed_at=NOW + timedelta(hours=hours),
                        components={},
                        contributions={},
                        drivers={},
                        missing=[],
                    )
                )
            session.commit()
            facts, _ = load_facts(session, 1, 10**9, NOW, Needs(), 0)
        # the future row is ignored; of the two at -24 h the later id counts as newer
        assert [(s.value, s.label) for s in facts[scored].health] == [
            (40.0, "t40"),
            (60.0, "t60"),
        ]
        assert facts[scored].health[0].at == NOW - timedelta(hours=24)
        assert facts[unscored].health == [] and facts[unscored].churn == []
