"""The feedback document: survey definitions, scales, sentiment, topics, priority rules."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateSyntaxError
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hub.growth.documents import DocumentKind, current, register
from hub.growth.render import check

KINDS = ("nps", "csat", "ces")
TRIGGERS = ("journey_day", "first_use", "event", "every")


class _Strict(Schema):
    class Meta:
        unknown = "raise"


class ScaleSchema(_Strict):
    min = fields.Int(required=True)
    max = fields.Int(required=True)
    question = fields.Str(required=True)


class TriggerSchema(_Strict):
    type = fields.Str(required=True, validate=validate.OneOf(TRIGGERS))
    day = fields.Int(validate=validate.Range(min=0, max=3650))
    grace_days = fields.Int(load_default=7, validate=validate.Range(min=0, max=365))
    event = fields.Str()
    events = fields.List(fields.Str())
    property = fields.Str()
    features = fields.List(fields.Str(), load_default=list)
    lookback_days = fields.Int(load_default=3, validate=validate.Range(min=1, max=90))
    days = fields.Int(validate=validate.Range(min=1, max=3650))
    within_days = fields.Int(load_default=14, validate=validate.Range(min=0, max=3650))

    @validates_schema
    def _complete(self, data: dict[str, Any], **_: Any) -> None:
        need = {
            "journey_day": ("day",),
            "first_use": ("event", "property"),
            "event": ("events",),
            "every": ("days",),
        }[data["type"]]
        missing = [name for name in need if not data.get(name) and data.get(name) != 0]
        if missing:
            raise ValidationError({"trigger": [f"{data['type']} needs {missing}"]})


class SurveySchema(_Strict):
    key = fields.Str(required=True, validate=validate.Regexp(r"^[a-z0-9_]{2,64}$"))
    kind = fields.Str(required=True, validate=validate.OneOf(KINDS))
    subject = fields.Str(load_default="")
    trigger = fields.Nested(TriggerSchema, required=True)
    channel = fields.Str(load_default="email", validate=validate.OneOf(("email", "inapp")))
    enabled = fields.Bool(load_default=True)
    ignore_quiet_days = fields.Bool(load_default=False)
    ignore_min_age = fields.Bool(load_default=False)
    max_contacts = fields.Int(load_default=1, validate=validate.Range(min=1, max=50))


class EligibilitySchema(_Strict):
    min_account_age_days = fields.Int(load_default=7, validate=validate.Range(min=0))
    quiet_days = fields.Int(load_default=30, validate=validate.Range(min=0))
    one_at_a_time = fields.Bool(load_default=True)


class SentimentSchema(_Strict):
    negative = fields.Float(load_default=-0.05, validate=validate.Range(min=-1, max=0))
    positive = fields.Float(load_default=0.05, validate=validate.Range(min=0, max=1))
    strongly_negative = fields.Float(load_default=-0.5, validate=validate.Range(min=-1, max=0))
    lexicon = fields.Dict(
        keys=fields.Str(), values=fields.Float(validate=validate.Range(min=-4, max=4))
    )


class PrioritySchema(_Strict):
    high_impact_mrr = fields.Float(load_default=2000)
    medium_impact_mrr = fields.Float(load_default=300)
    high_impact_segments = fields.List(fields.Str(), load_default=list)


class FollowUpSchema(_Strict):
    detractor_case = fields.Bool(load_default=True)
    strongly_negative_case = fields.Bool(load_default=True)
    promoter_referral = fields.Bool(load_default=True)


class FeedbackConfigSchema(_Strict):
    expire_after_days = fields.Int(load_default=14, validate=validate.Range(min=1, max=365))
    eligibility = fields.Nested(
        EligibilitySchema, load_default=lambda: EligibilitySchema().load({})
    )
    answer_rate_limit_per_minute = fields.Int(load_default=20, validate=validate.Range(min=1))
    scales = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(KINDS)),
        values=fields.Nested(ScaleSchema),
        required=True,
    )
    surveys = fields.List(fields.Nested(SurveySchema), required=True)
    sentiment = fields.Nested(SentimentSchema, load_default=lambda: SentimentSchema().load({}))
    topics = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()), load_default=dict)
    priority = fields.Nested(PrioritySchema, load_default=lambda: PrioritySchema().load({}))
    follow_up = fields.Nested(FollowUpSchema, load_default=lambda: FollowUpSchema().load({}))
    product_name = fields.Str(load_default="cshub")

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        keys = [s["key"] for s in data.get("surveys", [])]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValidationError({"surveys": [f"duplicate survey keys: {dupes}"]})
        for survey in data.get("surveys", []):
            if survey["kind"] not in data.get("scales", {}):
                raise ValidationError({"scales": [f"no scale for kind {survey['kind']}"]})
            try:
                check(survey.get("subject", ""))
            except TemplateSyntaxError as exc:
                raise ValidationError({"surveys": [f"{survey['key']}: {exc.message}"]}) from exc
        for kind, scale in data.get("scales", {}).items():
            if scale["min"] >= scale["max"]:
                raise ValidationError({"scales": [f"{kind}: min must be below max"]})


KIND = register(DocumentKind("feedback", "hub.feedback", FeedbackConfigSchema))


def settings(session) -> dict[str, Any]:
    return current(session, "feedback")[1]


def definition(doc: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((s for s in doc["surveys"] if s["key"] == key), None)
