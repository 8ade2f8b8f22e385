"""Public growth endpoints (no token; signed or unguessable, and rate-limited per address).

- ``GET /r/<code>``: a referral link. Records the click, sets the click cookie, redirects to
  the landing page with ``ref`` and ``rc`` (click token) so the product can pass them on.
- ``GET /s/<token>``: a one-click survey answer (the token is signed: survey and score).
  ``POST /s/<token>`` with ``comment`` adds a comment. Tampered tokens are refused (400).
- ``GET /o/<token>``: an offer link. Records the view and redirects to checkout.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import current_app, make_response, redirect, render_template_string, request
from flask.views import MethodView
from flask_smorest import Blueprint

from hub.db import db, utcnow
from hub.errors import ApiError
from hub.feedback import config as feedback_config
from hub.feedback.answers import BadAnswer, SurveyClosed, answer_survey
from hub.feedback.links import read_token
from hub.growth.ratelimit import enforce
from hub.growth.tokens import ExpiredToken, InvalidToken, unsign
from hub.models import Offer, Survey
from hub.offers import tracking
from hub.offers.config import settings as offer_settings
from hub.offers.engine import VIEW_PURPOSE
from hub.referrals import attribution
from hub.referrals.codes import display
from hub.referrals.config import settings as referral_settings
from hub.referrals.programme import find_code

blp = Blueprint("growth_public", __name__, description="Public referral, survey and offer links")

COOKIE = "cshub_ref"
TOKEN_MAX_AGE = 400 * 86400
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
textarea{width:100%;min-height:6rem}button{margin-top:.5rem;padding:.4rem 1rem}</style>
</head><body><h1>{{ title }}</h1><p>{{ message }}</p>
{% if comment_url %}<form method="post" action="{{ comment_url }}">
<label for="comment">Anything you'd like to add?</label>
<textarea id="comment" name="comment" maxlength="5000"></textarea>
<button type="submit">Send</button></form>{% endif %}</body></html>"""


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _page(status: int, title: str, message: str, comment_url: str | None = None, **doc):
    if _wants_json():
        body = {"title": title, "message": message, **doc}
        if status >= 400:
            raise ApiError(status, doc.get("code", "error"), message)
        return body, status
    html = render_template_string(PAGE, title=title, message=message, comment_url=comment_url)
    return make_response(html, status, {"Content-Type": "text/html; charset=utf-8"})


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


@blp.route("/r/<string:code>")
class ReferralLink(MethodView):
    @blp.doc(security=[])
    def get(self, code: str):
        """Follow a referral link: record the click and redirect to the signup page."""
        cfg = referral_settings(db.session)
        enforce("referral-click", cfg["click_rate_limit_per_minute"])
        row = find_code(db.session, code)
        if row is None:
            raise ApiError(404, "unknown_code", "this referral link is not valid")
        referral = attribution.record_click(db.session, row, request.cookies.get(COOKIE), utcnow())
        token = referral.click_token
        db.session.commit()
        target = _with_query(cfg["landing_url"], {"ref": display(row.code), "rc": token})
        response = redirect(target, 302)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.set_cookie(
            COOKIE,
            token,
            max_age=cfg["cookie_days"] * 86400,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["CSHUB"].base_url.startswith("https"),
        )
        return response


def _survey_from(token: str) -> tuple[Survey, int | None]:
    try:
        survey_id, score = read_token(token, TOKEN_MAX_AGE)
    except ExpiredToken as exc:
        raise ApiError(410, "link_expired", "this survey link has expired") from exc
    except InvalidToken as exc:
        raise ApiError(400, "invalid_link", "this survey link is not valid") from exc
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise ApiError(404, "not_found", "this survey no longer exists")
    return survey, score


def _answer(token: str, score_override: bool, comment: str | None):
    doc = feedback_config.settings(db.session)
    enforce("survey-answer", doc["answer_rate_limit_per_minute"])
    survey, score = _survey_from(token)
    try:
        response = answer_survey(
            db.session,
            survey,
            score=score if score_override else None,
            comment=comment,
            now=utcnow(),
            base_url=current_app.config["CSHUB"].base_url,
            source="link",
        )
    except SurveyClosed as exc:
        db.session.rollback()
        return _page(410, "This survey has closed", str(exc), code="survey_closed")
    except BadAnswer as exc:
        db.session.rollback()
        return _page(422, "That answer could not be recorded", str(exc), code="bad_answer")
    db.session.commit()
    comment_url = None if comment is not None else request.path
    return _page(
        200,
        "Thank you!",
        f"We recorded your answer: {response.score:g}.",
        comment_url=comment_url,
        survey_id=survey.id,
        score=response.score,
    )


@blp.route("/s/<string:token>")
class SurveyLink(MethodView):
    @blp.doc(security=[])
    def get(self, token: str):
        """Record the score the link carries (one click), then offer a comment box."""
        return _answer(token, True, None)

    @blp.doc(security=[])
    def post(self, token: str):
        """Add a comment (form field or JSON ``comment``) to the answer of this survey."""
        data = request.get_json(silent=True) if request.is_json else request.form
        comment = (data or {}).get("comment")
        if not isinstance(comment, str):
            raise ApiError(422, "bad_answer", "send a 'comment' text")
        return _answer(token, False, comment)


@blp.route("/o/<string:token>")
class OfferLink(MethodView):
    @blp.doc(security=[])
    def get(self, token: str):
        """Record that the customer opened the offer, then redirect to checkout."""
        enforce("offer-view", 60)
        try:
            payload = unsign(VIEW_PURPOSE, token, TOKEN_MAX_AGE)
        except InvalidToken as exc:
            raise ApiError(400, "invalid_link", "this offer link is not valid") from exc
        offer = (
            db.session.get(Offer, payload.get("o")) if isinstance(payload.get("o"), int) else None
        )
        if offer is None:
            raise ApiError(404, "not_found", "this offer no longer exists")
        tracking.mark_viewed(offer, utcnow(), session=db.session)
        db.session.commit()
        _, doc = offer_settings(db.session)
        target = (offer.details or {}).get("target") or {}
        what = target.get("plan") or target.get("product") or target.get("interval") or ""
        url = doc["checkout_url"].replace("{offer_id}", str(offer.id)).replace("{target}", what)
        response = redirect(url, 302)
        response.headers["Cache-Control"] = "no-store"
        return response
