"""Scores: an account's health score with its explanation and history, the distribution of
tiers and risk segments, the churn model registry, and the scoring configuration (read,
validated update with versioning, preview of the tiers a proposed change would produce)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from flask.views import MethodView
from marshmallow import ValidationError as SchemaError
from marshmallow import fields, validate, validates_schema

from hub import churn_registry, scoring_config
from hub.api.common import StrictSchema, api_blueprint, get_or_404
from hub.audit import record
from hub.auth import current_actor
from hub.db import db
from hub.errors import ApiError
from hub.models import Account
from hub.scoring_preview import compare
from hub.scoring_results import distribution, health_history, latest_prediction
from scoring.config import ConfigError, parse_config

blp = api_blueprint("scores", __name__, "/api/scores", "Health scores, churn risk and models")


class HealthSchema(StrictSchema):
    score = fields.Float()
    tier = fields.Str()
    profile = fields.Str(allow_none=True)
    components = fields.Dict(keys=fields.Str(), values=fields.Float())
    contributions = fields.Dict(keys=fields.Str(), values=fields.Float())
    drivers = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()))
    missing = fields.List(fields.Str())
    trend_7d = fields.Float(allow_none=True)
    trend_30d = fields.Float(allow_none=True)
    config_version = fields.Int(allow_none=True)
    computed_at = fields.DateTime()


class HistoryPointSchema(StrictSchema):
    score = fields.Float()
    tier = fields.Str()
    config_version = fields.Int(allow_none=True)
    computed_at = fields.DateTime()


class PredictionSchema(StrictSchema):
    probability = fields.Float()
    segment = fields.Str()
    model_version = fields.Str()
    reasons = fields.List(fields.Str())
    predicted_at = fields.DateTime()


class AccountScoreSchema(StrictSchema):
    account_id = fields.Int()
    health = fields.Nested(HealthSchema, allow_none=True)
    churn = fields.Nested(PredictionSchema, allow_none=True)
    history = fields.List(fields.Nested(HistoryPointSchema))


class HistoryQuerySchema(StrictSchema):
    history = fields.Int(load_default=30, validate=validate.Range(min=0, max=1000))


class DistributionSchema(StrictSchema):
    tiers = fields.Dict(keys=fields.Str(), values=fields.Int())
    risk_segments = fields.Dict(keys=fields.Str(), values=fields.Int())
    accounts_scored = fields.Int()
    accounts_predicted = fields.Int()
    last_scored = fields.DateTime(allow_none=True)
    last_predicted = fields.DateTime(allow_none=True)
    config_version = fields.Int()
    model_version = fields.Str(allow_none=True)


class ModelSchema(StrictSchema):
    version = fields.Str()
    algorithm = fields.Str()
    features = fields.List(fields.Str())
    metrics = fields.Dict()
    training_window = fields.Dict()
    data_fingerprint = fields.Str(allow_none=True)
    active = fields.Bool()
    created_at = fields.DateTime()


class ConfigSchema(StrictSchema):
    version = fields.Int()
    active = fields.Bool()
    document = fields.Dict()
    created_by = fields.Str(allow_none=True)
    created_at = fields.DateTime()


class ConfigChangeSchema(StrictSchema):
    """Whole sections to replace; a section left out keeps its current content."""

    features = fields.Dict()
    health = fields.Dict()
    churn = fields.Dict()

    @validates_schema
    def _not_empty(self, data, **_kwargs) -> None:
        if not data:
            raise SchemaError("give at least one of features, health, churn")


class PreviewSchema(StrictSchema):
    based_on_version = fields.Int()
    accounts = fields.Int()
    sampled = fields.Bool()
    tiers = fields.Dict(keys=fields.Str(), values=fields.Int())
    current_tiers = fields.Dict(keys=fields.Str(), values=fields.Int())
    changed_tier = fields.Int()
    mean_score = fields.Float(allow_none=True)
    current_mean_score = fields.Float(allow_none=True)


class JobSchema(StrictSchema):
    job_id = fields.Str()
    status = fields.Str()


def _invalid(exc: ConfigError) -> ApiError:
    return ApiError(422, "invalid_config", "the configuration is invalid", problems=exc.problems)


@blp.route("/accounts/<int:account_id>")
class AccountScore(MethodView):
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, AccountScoreSchema)
    def get(self, query, account_id: int):
        """An account's current health score with its explanation, its latest churn
        prediction with reasons, and its score history (newest first)."""
        get_or_404(Account, account_id)
        rows = health_history(db.session, account_id, max(1, query["history"]))
        return {
            "account_id": account_id,
            "health": rows[0] if rows else None,
            "churn": latest_prediction(db.session, account_id),
            "history": rows[: query["history"]],
        }


@blp.route("/distribution")
class Distribution(MethodView):
    @blp.response(200, DistributionSchema)
    def get(self):
        """How many live accounts are in each tier and churn-risk segment (latest scores)."""
        doc = distribution(db.session)
        doc["config_version"] = scoring_config.active_version(db.session).version
        active = churn_registry.active_row(db.session)
        doc["model_version"] = active.version if active else None
        db.session.commit()
        return doc


@blp.route("/models")
class Models(MethodView):
    @blp.response(200, ModelSchema(many=True))
    def get(self):
        """The churn model registry, newest first, with each model's metrics."""
        return churn_registry.listing(db.session)


@blp.route("/models/<string:version>")
class ModelByVersion(MethodView):
    @blp.response(200, ModelSchema)
    def get(self, version: str):
        """One registered model."""
        row = churn_registry.get(db.session, version)
        if row is None:
            raise ApiError(404, "not_found", f"model {version} does not exist")
        return row


@blp.route("/models/<string:version>/activate")
class ActivateModel(MethodView):
    @blp.response(200, ModelSchema)
    def post(self, version: str):
        """Make this model the active one (an admin's choice, whatever its metrics)."""
        row = churn_registry.get(db.session, version)
        if row is None:
            raise ApiError(404, "not_found", f"model {version} does not exist")
        try:
            churn_registry.load(row)
        except ValueError as exc:
            raise ApiError(409, "unusable_model", str(exc)) from exc
        churn_registry.activate(db.session, row)
        record(db.session, current_actor(), "churn_model.activate", f"churn_model:{version}")
        db.session.commit()
        return row


@blp.route("/models/train")
class TrainModel(MethodView):
    @blp.response(202, JobSchema)
    def post(self):
        """Retrain the churn model now (in the background; promoted only if it is better)."""
        from jobs.base import enqueue
        from jobs.scoring import train_weekly

        job = enqueue(train_weekly)
        record(db.session, current_actor(), "churn_model.train_requested", f"job:{job.id}")
        db.session.commit()
        return {"job_id": job.id, "status": job.get_status()}


@blp.route("/runs")
class Runs(MethodView):
    @blp.response(202, JobSchema)
    def post(self):
        """Score every account now (in the background)."""
        from jobs.base import enqueue
        from jobs.scoring import score_all

        job = enqueue(score_all)
        record(db.session, current_actor(), "scores.run_requested", f"job:{job.id}")
        db.session.commit()
        return {"job_id": job.id, "status": job.get_status()}


@blp.route("/config")
class Config(MethodView):
    @blp.response(200, ConfigSchema)
    def get(self):
        """The active scoring configuration (weights, indicators, tiers, profiles, churn)."""
        row = scoring_config.active_version(db.session)
        db.session.commit()
        return row

    @blp.arguments(ConfigChangeSchema)
    @blp.response(200, ConfigSchema)
    def put(self, changes):
        """Replace sections of the configuration; validated (component weights must sum
        to 100, rules complete, tiers ordered) and stored as a new version."""
        try:
            row = scoring_config.save(db.session, changes, current_actor())
        except ConfigError as exc:
            db.session.rollback()
            raise _invalid(exc) from exc
        record(
            db.session,
            current_actor(),
            "scoring_config.update",
            f"scoring_config:{row.version}",
            sections=sorted(changes),
        )
        db.session.commit()
        return row


@blp.route("/config/versions")
class ConfigVersions(MethodView):
    @blp.response(200, ConfigSchema(many=True))
    def get(self):
        """Every configuration version, newest first."""
        rows = scoring_config.versions(db.session)
        if not rows:
            rows = [scoring_config.active_version(db.session)]
            db.session.commit()
        return rows


@blp.route("/config/preview")
class ConfigPreview(MethodView):
    @blp.arguments(ConfigChangeSchema)
    @blp.response(200, PreviewSchema)
    def post(self, changes):
        """The tier distribution a proposed configuration would give the live accounts
        today, beside the current one (nothing is saved; a sample for large tenants)."""
        try:
            proposed = parse_config(scoring_config.merged(db.session, changes))
        except ConfigError as exc:
            raise _invalid(exc) from exc
        result = compare(db.session, proposed)
        old, new = result.current, result.proposed
        return {
            "based_on_version": result.based_on_version,
            "accounts": len(new.score),
            "sampled": result.sampled,
            "tiers": dict(Counter(t for t in new.tier if t is not None)),
            "current_tiers": dict(Counter(t for t in old.tier if t is not None)),
            "changed_tier": int(sum(a != b for a, b in zip(new.tier, old.tier, strict=True))),
            "mean_score": _mean(new.score),
            "current_mean_score": _mean(old.score),
        }


def _mean(values) -> float | None:
    v = np.asarray(values, dtype="float64")
    v = v[~np.isnan(v)]
    return round(float(v.mean()), 1) if len(v) else None
