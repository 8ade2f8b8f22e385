"""Bulk writes of score and prediction history: JSON columns serialised once per value."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
from sqlalchemy import select

from hub.db import db
from hub.models import Account, ChurnPrediction, HealthScore
from hub.scoring_results import health_rows, insert_rows, prediction_rows

AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def test_json_columns_read_back_as_written(app):
    """Explanations and reasons written as pre-serialised text read back as the same
    Python values (unicode, nesting, empty containers) through the models' JSON type."""
    with app.app_context():
        account = Account(name="Mineurs Ré")
        db.session.add(account)
        db.session.commit()
        record = {
            "account_id": account.id,
            "score": 61.5,
            "tier": "healthy",
            "profile": "default",
            "components": {"usage": 72.1, "value": 40.0},
            "contributions": {"logins_30d": 12.25},
            "drivers": {"down": ["Hashrate ↓"], "up": []},
            "missing": [],
        }
        result = SimpleNamespace(records=lambda: [record], account_id=np.array([account.id]))
        health = health_rows(result, {7: np.array([np.nan])}, 3, AT)
        predictions = prediction_rows(
            np.array([account.id]),
            np.array([0.51234]),
            np.array(["medium"]),
            [["Fewer logins", "Ticket « urgent »"]],
            "v1",
            AT,
        )
        assert len(health) == len(predictions) == 1
        with db.engine.begin() as conn:
            insert_rows(conn, health, predictions)
        score = db.session.scalar(select(HealthScore))
        assert (score.components, score.contributions) == (
            record["components"],
            record["contributions"],
        )
        assert (score.drivers, score.missing) == (record["drivers"], [])
        assert (score.trend_7d, score.trend_30d, score.config_version) == (None, None, 3)
        prediction = db.session.scalar(select(ChurnPrediction))
        assert prediction.reasons == ["Fewer logins", "Ticket « urgent »"]
        assert (prediction.probability, prediction.segment) == (0.5123, "medium")
