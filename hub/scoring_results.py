"""Writing score and prediction history in bulk, and reading it back for the API."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import JSON, Dialect, bindparam, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from hub.models import Account, ChurnPrediction, HealthScore
from scoring.health import HealthResult

BATCH = 5000


class _JSONText(TypeDecorator[str]):
    """A JSON column bound from text already serialised (``_json``): the SQL is the JSON
    type's (``::JSON`` on PostgreSQL) without SQLAlchemy's ``json.dumps`` per value."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _insert_json(model: type, *columns: str):
    """INSERT into ``model`` taking ``columns`` as serialised JSON text."""
    return insert(model).values({c: bindparam(c, type_=_JSONText()) for c in columns})


_HEALTH_INSERT = _insert_json(HealthScore, "components", "contributions", "drivers", "missing")
_PREDICTION_INSERT = _insert_json(ChurnPrediction, "reasons")


def _nan_none(value: float) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 1)


def health_rows(
    result: HealthResult,
    trends: dict[int, np.ndarray],
    config_version: int,
    computed_at: datetime,
) -> list[dict[str, Any]]:
    """One HealthScore row (JSON serialised) per scored account."""
    index = {int(a): i for i, a in enumerate(result.account_id)}
    rows = []
    for rec in result.records():
        i = index[rec["account_id"]]
        rows.append(
            {
                "account_id": rec["account_id"],
                "score": rec["score"],
                "tier": rec["tier"],
                "components": _json(rec["components"]),
                "contributions": _json(rec["contributions"]),
                "drivers": _json(rec["drivers"]),
                "missing": _json(rec["missing"]),
                "trend_7d": _nan_none(trends[7][i]) if 7 in trends else None,
                "trend_30d": _nan_none(trends[30][i]) if 30 in trends else None,
                "profile": rec["profile"],
                "config_version": config_version,
                "computed_at": computed_at,
            }
        )
    return rows


def prediction_rows(
    account_ids: np.ndarray,
    probability: np.ndarray,
    segments: np.ndarray,
    reasons: list[list[str]],
    model_version: str,
    predicted_at: datetime,
) -> list[dict[str, Any]]:
    """One ChurnPrediction row (reasons serialised) per account."""
    return [
        {
            "account_id": int(a),
            "probability": round(float(p), 4),
            "segment": str(s),
            "model_version": model_version,
            "reasons": _json(r),
            "predicted_at": predicted_at,
        }
        for a, p, s, r in zip(account_ids, probability, segments, reasons, strict=True)
    ]


def insert_rows(conn: Connection, health: list[dict], predictions: list[dict]) -> None:
    """Insert rows made by ``health_rows`` and ``prediction_rows``, in batches."""
    for statement, rows in ((_HEALTH_INSERT, health), (_PREDICTION_INSERT, predictions)):
        for start in range(0, len(rows), BATCH):
            conn.execute(statement, rows[start : start + BATCH])


def _latest_ids(model, accounts):
    """Subquery: the id of the latest row of ``model`` for each account in ``accounts``
    (rows are only ever inserted, so the highest id is the latest)."""
    stmt = select(func.max(model.id).label("id")).where(model.account_id.in_(accounts))
    return stmt.group_by(model.account_id).subquery()


def distribution(session: Session) -> dict[str, Any]:
    """Tiers and risk segments of every live account's latest score and prediction."""
    live = select(Account.id).where(Account.deleted_at.is_(None), Account.churned_at.is_(None))
    tiers = Counter(
        dict(
            session.execute(
                select(HealthScore.tier, func.count())
                .where(HealthScore.id.in_(select(_latest_ids(HealthScore, live).c.id)))
                .group_by(HealthScore.tier)
            ).all()
        )
    )
    segments = Counter(
        dict(
            session.execute(
                select(ChurnPrediction.segment, func.count())
                .where(ChurnPrediction.id.in_(select(_latest_ids(ChurnPrediction, live).c.id)))
                .group_by(ChurnPrediction.segment)
            ).all()
        )
    )
    last_scored = session.scalar(select(func.max(HealthScore.computed_at)))
    last_predicted = session.scalar(select(func.max(ChurnPrediction.predicted_at)))
    return {
        "tiers": dict(tiers),
        "risk_segments": dict(segments),
        "accounts_scored": sum(tiers.values()),
        "accounts_predicted": sum(segments.values()),
        "last_scored": last_scored,
        "last_predicted": last_predicted,
    }


def health_history(session: Session, account_id: int, limit: int) -> list[HealthScore]:
    return list(
        session.scalars(
            select(HealthScore)
            .where(HealthScore.account_id == account_id)
            .order_by(HealthScore.computed_at.desc(), HealthScore.id.desc())
            .limit(limit)
        )
    )


def latest_prediction(session: Session, account_id: int) -> ChurnPrediction | None:
    return session.scalar(
        select(ChurnPrediction)
        .where(ChurnPrediction.account_id == account_id)
        .order_by(ChurnPrediction.predicted_at.desc(), ChurnPrediction.id.desc())
        .limit(1)
    )
