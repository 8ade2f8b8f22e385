"""The scores API: explanations, distribution, model registry, versioned configuration."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

from hub import churn_registry
from hub.db import db
from hub.demo import generate
from hub.models import ChurnModelVersion, HealthScore
from hub.scoring_service import plan_run, run_inline
from scoring.churn import ChurnModel, typical_values
from scoring.estimators import Columns, fit_calibrated

NOW = datetime.now(UTC)


@pytest.fixture
def scored(app):
    """A small demo tenant scored once (no churn model)."""
    with app.app_context():
        with db.engine.begin() as conn:
            generate(conn, accounts=25, seed=3, days=40, as_of=NOW.date())
        summary = run_inline(db.engine, plan_run(db.engine, NOW))
    return summary


def _register(app, name_seed: int, active: bool) -> str:
    rng = np.random.default_rng(name_seed)
    X = pd.DataFrame({"active_days_30": rng.integers(0, 30, 300).astype(float)})
    y = (rng.random(300) < 1 / (1 + np.exp(0.3 * (X["active_days_30"] - 10)))).astype(int)
    fit = fit_calibrated(X, y.to_numpy(), Columns(("active_days_30",), ()), seed=name_seed)
    model = ChurnModel(
        fit.estimator, ["active_days_30"], [], typical_values(X, ["active_days_30"], [])
    )
    with app.app_context():
        row = churn_registry.register(
            db.session,
            model,
            {"roc_auc": 0.8, "baseline": {"roc_auc": 0.7}},
            {"from": "2026-01-01"},
            f"{name_seed:064d}",
            datetime(2026, 1, 1, 3, name_seed, tzinfo=UTC),
        )
        if active:
            churn_registry.activate(db.session, row)
        db.session.commit()
        return row.version


def test_default_configuration_is_version_one(client, admin_headers):
    resp = client.get("/api/scores/config", headers=admin_headers)
    assert resp.status_code == 200
    doc = resp.json
    assert doc["version"] == 1 and doc["active"] and doc["created_by"] == "defaults"
    weights = {k: v["weight"] for k, v in doc["document"]["health"]["components"].items()}
    assert weights == {"usage": 30, "engagement": 25, "value": 25, "relationship": 20}


def test_weights_not_summing_to_100_are_422_and_nothing_is_saved(client, admin_headers):
    health = client.get("/api/scores/config", headers=admin_headers).json["document"]["health"]
    health["components"]["usage"]["weight"] = 40
    resp = client.put("/api/scores/config", headers=admin_headers, json={"health": health})
    assert resp.status_code == 422
    error = resp.json["error"]
    assert error["code"] == "invalid_config"
    assert any("sum to 110" in p for p in error["problems"])
    assert client.get("/api/scores/config", headers=admin_headers).json["version"] == 1


def test_unknown_sections_and_empty_changes_are_422(client, admin_headers):
    resp = client.put("/api/scores/config", headers=admin_headers, json={"weights": {}})
    assert resp.status_code == 422 and "weights" in str(resp.json["error"]["fields"])
    assert client.put("/api/scores/config", headers=admin_headers, json={}).status_code == 422


def test_a_change_is_a_new_version_recorded_on_scores(app, client, admin_headers, scored):
    """A valid change becomes version 2; the next run's scores carry version 2."""
    health = client.get("/api/scores/config", headers=admin_headers).json["document"]["health"]
    health["components"]["usage"]["weight"] = 40
    health["components"]["relationship"]["weight"] = 10
    resp = client.put("/api/scores/config", headers=admin_headers, json={"health": health})
    assert resp.status_code == 200, resp.json
    assert resp.json["version"] == 2 and resp.json["created_by"] == "bootstrap-admin"
    versions = client.get("/api/scores/config/versions", headers=admin_headers).json
    assert [v["version"] for v in versions] == [2, 1] and not versions[1]["active"]
    with app.app_context():
        run_inline(db.engine, plan_run(db.engine, datetime.now(UTC)))
        used = set(db.session.scalars(select(HealthScore.config_version)))
    assert used == {1, 2}


def test_reps_can_read_but_not_change_the_configuration(app, client):
    from hub.auth import create_token

    with app.app_context():
        _, token = create_token(db.session, "rep", "rep")
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/scores/config", headers=headers).status_code == 200
    assert client.put("/api/scores/config", headers=headers, json={"churn": {}}).status_code == 403


def test_account_score_with_explanation_and_history(app, client, admin_headers, scored):
    with app.app_context():
        account_id = db.session.scalar(select(HealthScore.account_id).limit(1))
    resp = client.get(f"/api/scores/accounts/{account_id}?history=5", headers=admin_headers)
    assert resp.status_code == 200
    body = resp.json
    health = body["health"]
    assert 0 <= health["score"] <= 100 and health["tier"]
    assert set(health["components"]) <= {"usage", "engagement", "value", "relationship"}
    assert sum(health["contributions"].values()) == pytest.approx(health["score"], abs=0.3)
    assert set(health["drivers"]) == {"down", "up"} and isinstance(health["missing"], list)
    assert health["config_version"] == 1 and len(body["history"]) == 1
    assert body["churn"] is None
    assert client.get("/api/scores/accounts/999", headers=admin_headers).status_code == 404
    bad = client.get(f"/api/scores/accounts/{account_id}?history=-1", headers=admin_headers)
    assert bad.status_code == 422


def test_distribution_counts_latest_scores(client, admin_headers, scored):
    body = client.get("/api/scores/distribution", headers=admin_headers).json
    assert sum(body["tiers"].values()) == body["accounts_scored"] == scored["scored"]
    assert body["risk_segments"] == {} and body["config_version"] == 1
    assert body["model_version"] is None


def test_preview_shows_the_tiers_a_change_would_give(client, admin_headers, scored):
    """Raising every tier's bar moves accounts down; nothing is saved."""
    health = client.get("/api/scores/config", headers=admin_headers).json["document"]["health"]
    health["tiers"] = {"champion": 99, "healthy": 98, "at_risk": 97, "critical": 0}
    resp = client.post("/api/scores/config/preview", headers=admin_headers, json={"health": health})
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["accounts"] == scored["scored"] and not body["sampled"]
    assert body["tiers"].get("critical", 0) >= body["current_tiers"].get("critical", 0)
    assert body["changed_tier"] > 0 and body["based_on_version"] == 1
    assert client.get("/api/scores/config", headers=admin_headers).json["version"] == 1
    health["components"]["value"]["weight"] = 5
    bad = client.post("/api/scores/config/preview", headers=admin_headers, json={"health": health})
    assert bad.status_code == 422


def test_model_registry_list_and_activate(app, client, admin_headers):
    first = _register(app, 1, active=True)
    second = _register(app, 2, active=False)
    models = client.get("/api/scores/models", headers=admin_headers).json
    assert [m["version"] for m in models] == [second, first]
    assert [m["active"] for m in models] == [False, True]
    assert models[0]["metrics"]["roc_auc"] == 0.8 and "artifact" not in models[0]
    resp = client.post(f"/api/scores/models/{second}/activate", headers=admin_headers)
    assert resp.status_code == 200 and resp.json["active"]
    with app.app_context():
        actives = db.session.scalars(
            select(ChurnModelVersion.version).where(ChurnModelVersion.active.is_(True))
        ).all()
    assert actives == [second]
    assert client.post("/api/scores/models/nope/activate", headers=admin_headers).status_code == 404
    assert client.get(f"/api/scores/models/{first}", headers=admin_headers).json["version"] == first


def test_runs_and_training_answer_202_with_a_job(client, admin_headers):
    from hub.queue import queues

    run = client.post("/api/scores/runs", headers=admin_headers)
    train = client.post("/api/scores/models/train", headers=admin_headers)
    assert run.status_code == train.status_code == 202
    assert queues["default"].fetch_job(run.json["job_id"]).func_name == "jobs.scoring.score_all"
    assert queues["low"].fetch_job(train.json["job_id"]).func_name == "jobs.scoring.train_weekly"


def test_openapi_documents_the_scores_paths(client):
    spec = client.get("/api/openapi.json").json
    validate(spec)
    assert "/api/scores/config" in spec["paths"] and "/api/scores/config/preview" in spec["paths"]
