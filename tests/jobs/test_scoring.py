"""The scoring jobs end to end on a small demo tenant, over real Redis and the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from rq import SimpleWorker, Worker
from sqlalchemy import func, select

from hub.churn_service import evaluate_active, predict_accounts
from hub.db import db
from hub.demo import generate
from hub.models import Account, ChurnModelVersion, ChurnPrediction, HealthScore
from hub.queue import queues
from hub.scoring_store import Scope, account_ids
from jobs.base import set_app
from jobs.scoring import score_all, score_chunk, train_weekly

AS_OF = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _demo(app, accounts: int, days: int) -> int:
    with app.app_context(), db.engine.begin() as conn:
        generate(conn, accounts=accounts, seed=7, days=days, as_of=AS_OF.date())
        return conn.scalar(
            select(func.count()).where(Account.churned_at.is_(None), Account.status != "churned")
        )


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _queued() -> list[str]:
    return [j.func_name for q in queues.all() for j in q.get_jobs()]


def test_train_then_score_in_chunks_then_write_back(app):
    """Weekly training registers and activates a model; the daily run fans out over chunk
    jobs, stores one score and one prediction per live account, and enqueues the CRM
    write-back once every chunk is done. A chunk retried does not duplicate rows."""
    live = _demo(app, accounts=100, days=150)
    set_app(app)
    with app.app_context():
        trained = train_weekly(as_of=AS_OF.isoformat())
        assert trained["promoted"] is True and trained["roc_auc"] > 0.7
        model = db.session.scalar(select(ChurnModelVersion))
        assert model.active and model.artifact[:2] == b"PK"
        assert model.metrics["baseline"]["roc_auc"] and model.metrics["health_score"]["roc_auc"]
        assert model.training_window["validation"]["rows"] > 0 and len(model.features) > 20
        assert len(model.data_fingerprint) == 64
        evaluated = evaluate_active(db.engine, AS_OF)  # cshub churn evaluate
        assert evaluated["version"] == model.version
        assert evaluated["roc_auc"] == model.metrics["roc_auc"]  # same snapshots, same model
        top = predict_accounts(db.engine, AS_OF, limit=5)  # cshub churn predict
        probabilities = [p["probability"] for p in top["predictions"]]
        assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)

        run = score_all(as_of=AS_OF.isoformat(), chunk_size=40)
        assert run["fanned_out"] and run["chunks"] == -(-live // 40)
        SimpleWorker(queues.all(), connection=queues.redis).work(
            burst=True, max_jobs=run["chunks"] + 1
        )
        assert _count(HealthScore) == live and _count(ChurnPrediction) == live
        assert sorted(_queued()) == ["jobs.sync.mixpanel_push", "jobs.sync.salesforce_push"]
        finish = queues["default"].fetch_job(run["finish_job"])
        assert finish.return_value()["scored"] == live

        score = db.session.scalar(select(HealthScore).limit(1))
        assert score.config_version == 1 and score.tier in {
            "champion",
            "healthy",
            "at_risk",
            "critical",
        }
        assert sum(score.contributions.values()) == pytest.approx(score.score, abs=0.3)
        for p in db.session.scalars(select(ChurnPrediction)):
            expected = next(
                (
                    s
                    for s, lower in (("high", 0.7), ("medium", 0.4), ("low", 0.2))
                    if p.probability >= lower
                ),
                "minimal",
            )
            assert p.segment == expected and p.model_version == model.version
            assert bool(p.reasons) <= (p.probability >= 0.2)  # reasons for risky accounts

        plan = queues["default"].fetch_job(run["chunk_jobs"][0]).args[0]
        lo, hi = plan["chunks"][0]
        score_chunk(plan, lo, hi)  # RQ may deliver a job twice
        db.session.expire_all()
        assert _count(HealthScore) == live and _count(ChurnPrediction) == live


def test_chunks_are_even_over_the_listening_workers(app):
    """With two workers listening, a run that needs three chunks of 40 gets four of equal
    size instead, so neither worker scores more accounts than the other."""
    live = _demo(app, accounts=130, days=40)
    set_app(app)
    with app.app_context():
        for name in ("w1", "w2"):
            Worker(queues.all(), connection=queues.redis, name=name).register_birth()
        assert -(-live // 40) == 3  # what one worker would get
        run = score_all(as_of=AS_OF.isoformat(), chunk_size=40)
        plan = queues["default"].fetch_job(run["chunk_jobs"][0]).args[0]
        with db.engine.connect() as conn:  # the accounts each chunk scores
            sizes = [len(account_ids(conn, Scope(lo=lo, hi=hi))) for lo, hi in plan["chunks"]]
        assert run["chunks"] == 4 and sum(sizes) == live
        assert max(sizes) - min(sizes) <= 1 and max(sizes) <= 40


def test_trend_from_last_weeks_score(app):
    """Scored a week ago and today: today's rows carry the change as trend_7d."""
    live = _demo(app, accounts=30, days=40)
    set_app(app)
    with app.app_context():
        earlier = score_all(as_of=(AS_OF - timedelta(days=7)).isoformat())
        assert earlier["scored"] == live and earlier["predicted"] == 0  # no model yet
        queues["default"].empty()
        queues["low"].empty()
        score_all(as_of=AS_OF.isoformat())
        today = db.session.scalars(
            select(HealthScore).where(HealthScore.computed_at == AS_OF)
        ).all()
        before = {
            s.account_id: s.score
            for s in db.session.scalars(select(HealthScore).where(HealthScore.computed_at < AS_OF))
        }
        assert len(today) == live
        for row in today:
            assert row.trend_7d == pytest.approx(row.score - before[row.account_id], abs=0.11)
            assert row.trend_30d is None


def test_training_without_enough_history_is_skipped_not_failed(app):
    _demo(app, accounts=20, days=30)
    set_app(app)
    with app.app_context():
        result = train_weekly(as_of=AS_OF.isoformat())
    assert result["skipped"] and "snapshots" in result["reason"]


def test_demo_as_of_is_a_date():
    """The tenant's as-of day is the run's day (a guard for the constants above)."""
    assert AS_OF.date() == date(2026, 11, 1)
