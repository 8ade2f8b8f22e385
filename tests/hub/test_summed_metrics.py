"""A farm's hashrate (or a trader's portfolio) reported in parts is the sum of its parts, on
every read path: the raw samples, the daily roll-ups and the playbook metric windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from hub import scoring_rollup
from hub.db import db
from hub.models import Account, MetricSample
from hub.playbooks.facts import MetricWindow, Needs
from hub.playbooks.queries import load_facts
from hub.scoring_config import default_config
from hub.scoring_store import Scope, load_for_scoring
from scoring import frames
from scoring.features import FeatureBuilder

AS_OF = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RIGS = {"rig-1": 100.0, "rig-2": 110.0, "rig-3": 120.0}  # TH/s each: the farm does 330
EFFICIENCY = {"rig-1": 30.0, "rig-2": 32.0, "rig-3": 34.0}  # J/TH: the farm's mean is 32


def _farm(session: Session) -> int:
    farm = Account(
        name="Three-rig farm",
        segment="mining_farm",
        signup_date=AS_OF - timedelta(days=200),
        status="active",
        lifecycle_stage="adoption",
        attributes={"nominal_hashrate_ths": 330.0},
    )
    session.add(farm)
    session.flush()
    for back in range(1, 11):
        day = datetime.combine(AS_OF - timedelta(days=back), datetime.min.time(), tzinfo=UTC)
        for i, (rig, rate) in enumerate(RIGS.items()):
            for hour in (1, 9, 17):  # each rig on its own clock, three readings a day
                at = day + timedelta(hours=hour, minutes=7 * i)
                session.add_all(
                    [
                        MetricSample(
                            account_id=farm.id,
                            source="cgminer",
                            metric="hashrate_ths",
                            subject=rig,
                            value=rate + (hour - 9) / 8,  # -1, 0, +1 around the rig's rate
                            measured_at=at,
                        ),
                        MetricSample(
                            account_id=farm.id,
                            source="cgminer",
                            metric="efficiency_j_th",
                            subject=rig,
                            value=EFFICIENCY[rig],
                            measured_at=at,
                        ),
                    ]
                )
        session.add(  # the pool sees the same farm total: averaged with the rigs, not added
            MetricSample(
                account_id=farm.id,
                source="pool",
                metric="hashrate_ths",
                subject="",
                value=330.0,
                measured_at=day + timedelta(hours=12),
            )
        )
    session.commit()
    return farm.id


def _features(engine, cfg, day: int):
    with engine.connect() as conn:
        inputs = load_for_scoring(conn, cfg.features, day, Scope())
    return FeatureBuilder(inputs, cfg.features).at(day).iloc[0]


def test_parts_are_added_up_on_the_raw_and_the_rolled_up_path(app):
    cfg = default_config()
    day = frames.epoch_day(AS_OF)
    window = MetricWindow("hashrate_ths", 3, 7)
    needs = Needs(metrics={window})
    with app.app_context():
        farm_id = _farm(db.session)
        engine = db.engine
        raw = _features(engine, cfg, day)
        with Session(engine) as session:
            raw_facts, _ = load_facts(session, farm_id, farm_id, NOW, needs, 0)
        scoring_rollup.ensure(engine, cfg.features, day - frames.LOOKBACK_DAYS, day)
        with engine.connect() as conn:
            assert scoring_rollup.covers(conn, cfg.features, day - frames.LOOKBACK_DAYS, day)
        rolled = _features(engine, cfg, day)
        with Session(engine) as session:
            rolled_facts, _ = load_facts(
                session, farm_id, farm_id, NOW, needs, 0, rollups=cfg.features
            )
    for features in (raw, rolled):
        assert features["hashrate_ratio"] == pytest.approx(1.0)  # 330 of a nominal 330
        assert features["efficiency_j_th"] == pytest.approx(32.0)  # a mean, not a sum
    for facts in (raw_facts, rolled_facts):
        stats = facts[farm_id].metrics[window]
        assert stats.recent_mean == pytest.approx(330.0)
        assert stats.baseline == pytest.approx(330.0)
        assert stats.recent_days == 3
