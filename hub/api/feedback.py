"""Feedback: surveys sent, answers (in-app or recorded by the product), config, trends."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import select

from hub.api.common import SelectPage, StrictSchema, api_blueprint, get_or_404
from hub.api.growth_common import PeriodSchema, config_routes, period
from hub.audit import record
from hub.auth import current_actor
from hub.db import db, utcnow
from hub.errors import ApiError
from hub.feedback import config as feedback_config
from hub.feedback.analysis import analyse
from hub.feedback.answers import BadAnswer, SurveyClosed, answer_survey, record_response
from hub.feedback.metrics import response_rates, trends
from hub.models import Account, Contact, Survey, SurveyResponse

blp = api_blueprint("feedback", __name__, "/api/feedback", "Feedback surveys and answers")
config_routes(blp, "feedback")

KINDS = ("nps", "csat", "ces")


def _base_url() -> str:
    return current_app.config["CSHUB"].base_url


class SurveySchema(StrictSchema):
    id = fields.Int()
    definition_key = fields.Str()
    kind = fields.Str()
    account_id = fields.Int()
    contact_id = fields.Int(allow_none=True)
    occurrence = fields.Int()
    status = fields.Str()
    channel = fields.Str()
    context = fields.Dict()
    sent_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)


class SurveyQuerySchema(StrictSchema):
    account_id = fields.Int()
    contact_id = fields.Int()
    status = fields.Str(validate=validate.OneOf(("sent", "answered", "expired")))
    definition_key = fields.Str()
    channel = fields.Str(validate=validate.OneOf(("email", "inapp")))


class ResponseSchema(StrictSchema):
    id = fields.Int(dump_only=True)
    survey_id = fields.Int(dump_only=True, allow_none=True)
    account_id = fields.Int(required=True)
    contact_id = fields.Int(allow_none=True)
    kind = fields.Str(required=True, validate=validate.OneOf(KINDS))
    score = fields.Float(required=True)
    comment = fields.Str(allow_none=True, validate=validate.Length(max=5000))
    sentiment = fields.Float(dump_only=True, allow_none=True)
    topics = fields.List(fields.Str(), dump_only=True)
    priority = fields.Str(dump_only=True, allow_none=True)
    extra = fields.Dict(dump_only=True)
    answered_at = fields.DateTime(dump_only=True)


class ResponseQuerySchema(StrictSchema):
    account_id = fields.Int()
    kind = fields.Str(validate=validate.OneOf(KINDS))
    priority = fields.Str(validate=validate.OneOf(("P1", "P2", "P3", "P4")))


class AnswerSchema(StrictSchema):
    score = fields.Int(allow_none=True)
    comment = fields.Str(allow_none=True, validate=validate.Length(max=5000))


class AnalyseSchema(StrictSchema):
    text = fields.Str(required=True, validate=validate.Length(min=1, max=5000))
    kind = fields.Str(load_default="nps", validate=validate.OneOf(KINDS))
    score = fields.Float(load_default=7)


@blp.route("/surveys")
class Surveys(MethodView):
    @blp.arguments(SurveyQuerySchema, location="query")
    @blp.response(200, SurveySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """Surveys sent, newest first (the product polls open in-app ones per contact)."""
        stmt = select(Survey).order_by(Survey.sent_at.desc(), Survey.id.desc())
        for name, value in filters.items():
            stmt = stmt.where(getattr(Survey, name) == value)
        return stmt


@blp.route("/surveys/<int:survey_id>/answer")
class SurveyAnswer(MethodView):
    @blp.arguments(AnswerSchema)
    @blp.response(200, ResponseSchema)
    def post(self, data, survey_id: int):
        """Record an in-app answer to a survey (a later answer replaces the score)."""
        survey = get_or_404(Survey, survey_id)
        try:
            response = answer_survey(
                db.session,
                survey,
                score=data.get("score"),
                comment=data.get("comment"),
                now=utcnow(),
                base_url=_base_url(),
                source="api",
            )
        except SurveyClosed as exc:
            db.session.rollback()
            raise ApiError(410, "survey_closed", str(exc)) from exc
        except BadAnswer as exc:
            db.session.rollback()
            raise ApiError(422, "bad_answer", str(exc)) from exc
        db.session.commit()
        return response


@blp.route("/responses")
class Responses(MethodView):
    @blp.arguments(ResponseQuerySchema, location="query")
    @blp.response(200, ResponseSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters):
        """Answers with sentiment, topics and priority, newest first."""
        stmt = select(SurveyResponse).order_by(
            SurveyResponse.answered_at.desc(), SurveyResponse.id.desc()
        )
        for name, value in filters.items():
            stmt = stmt.where(getattr(SurveyResponse, name) == value)
        return stmt

    @blp.arguments(ResponseSchema)
    @blp.response(201, ResponseSchema)
    def post(self, data):
        """Record an answer the product collected itself (analysed and followed up)."""
        get_or_404(Account, data["account_id"])
        if data.get("contact_id") is not None:
            contact = get_or_404(Contact, data["contact_id"])
            if contact.account_id != data["account_id"]:
                raise ApiError(422, "contact_mismatch", "the contact is not on that account")
        try:
            response = record_response(
                db.session,
                account_id=data["account_id"],
                contact_id=data.get("contact_id"),
                kind=data["kind"],
                score=data["score"],
                comment=data.get("comment"),
                now=utcnow(),
                base_url=_base_url(),
            )
        except BadAnswer as exc:
            db.session.rollback()
            raise ApiError(422, "bad_answer", str(exc)) from exc
        record(db.session, current_actor(), "feedback.record", f"response:{response.id}")
        db.session.commit()
        return response


@blp.route("/analyse")
class Analyse(MethodView):
    @blp.arguments(AnalyseSchema)
    def post(self, data):
        """Sentiment, topics and priority the current settings give a text (nothing stored)."""
        doc = feedback_config.settings(db.session)
        result = analyse(doc, data["kind"], data["score"], data["text"], 0.0, None)
        return {
            "sentiment": result.sentiment,
            "label": result.label,
            "topics": result.topics,
            "detractor": result.detractor,
            "priority": result.priority,
        }


@blp.route("/metrics")
class FeedbackMetrics(MethodView):
    @blp.arguments(PeriodSchema, location="query")
    def get(self, args):
        """Measured response rates and monthly NPS / CSAT / CES / sentiment trends."""
        since, until = period(args)
        return {
            "period": {"since": since.isoformat(), "until": until.isoformat()},
            "response_rates": response_rates(db.session, since, until),
            **trends(db.session, since, until),
        }
