"""Feedback: who gets which survey when, signed one-click answers (tampering refused),
sentiment/topics/priority, a Case for detractors once, a referral invite for promoters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from sqlalchemy import select

from hub.db import utcnow
from hub.models import Contact, Event, OutboxMessage, Survey, SurveyResponse
from tests.hub.growth.conftest import BASE_URL

NOW = utcnow()
DATA = Path(__file__).parents[3] / "bench" / "data" / "sentiment_comments.yaml"


def _send(app, days=0):
    from jobs.growth import send_surveys

    with app.app_context():
        return send_surveys((NOW + timedelta(days=days)).isoformat())


def _survey_message(session, survey_id):
    return session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == f"survey:{survey_id}")
    )


def _path(url):
    return urlsplit(url).path


def test_onboarding_survey_on_day_14_once(app, session, make_account):
    """The day-14 onboarding survey goes to the owner once; younger accounts get nothing."""
    make_account("Day14", email="o@day14.io", tenure_days=14)
    make_account("Day5", email="o@day5.io", tenure_days=5)
    assert _send(app)["by_survey"] == {"onboarding_experience": 1}
    assert _send(app)["sent"] == 0
    survey = session.scalar(select(Survey))
    assert survey.kind == "ces" and survey.channel == "email"
    message = _survey_message(session, survey.id)
    assert sorted(message.payload["answer_links"]) == [str(n) for n in range(1, 8)]
    assert "How easy was it to get set up?" in message.body


def test_eligibility_quiet_period_one_at_a_time_and_unsubscribe(app, session, make_account):
    """No survey to a contact surveyed recently, with one open, or unsubscribed from e-mail."""
    account = make_account("Q", email="o@q.io", tenure_days=180)
    assert _send(app)["by_survey"] == {"quarterly_health": 1}  # occurrence 2 (day 180)
    contact = session.scalar(select(Contact).where(Contact.account_id == account.id))
    session.add(
        Event(
            account_id=account.id,
            contact_id=contact.id,
            name="case_closed",
            occurred_at=NOW - timedelta(hours=2),
            properties={"case_id": "500X"},
            source="salesforce",
            source_event_id="case-1",
        )
    )
    session.commit()
    # support surveys ignore the quiet period, but not "one open survey at a time"
    assert _send(app)["sent"] == 0
    first = session.scalar(select(Survey))
    first.status = "answered"
    session.commit()
    assert _send(app)["by_survey"] == {"support_satisfaction": 1}
    other = make_account("U", email="o@u.io", tenure_days=180)
    unsubscribed = session.scalar(select(Contact).where(Contact.account_id == other.id))
    unsubscribed.unsubscribed = ["email"]
    session.commit()
    assert _send(app)["sent"] == 0


def test_feature_first_use_survey_in_app(app, session, make_account):
    """The first use of a feature by a contact brings an in-app CSAT about that feature."""
    account = make_account("F", email="o@f.io", tenure_days=40)
    contact = session.scalar(select(Contact).where(Contact.account_id == account.id))
    for n, days in enumerate((1, 0.5)):
        session.add(
            Event(
                account_id=account.id,
                contact_id=contact.id,
                name="feature_used",
                occurred_at=NOW - timedelta(days=days),
                properties={"feature": "auto_tuning"},
                source="product",
                source_event_id=f"f{n}",
            )
        )
    session.commit()
    assert _send(app)["by_survey"] == {"feature_satisfaction": 1}
    survey = session.scalar(select(Survey))
    assert survey.channel == "inapp" and survey.context == {"feature": "auto_tuning"}
    message = _survey_message(session, survey.id)
    assert message.channel == "inapp" and "auto tuning" in message.payload["question"]


def test_one_click_answer_and_comment(app, client, session, make_account):
    """A click records the score; the comment adds sentiment and topics; re-click updates."""
    make_account("A", email="o@a.io", tenure_days=14, mrr=49)
    _send(app)
    survey = session.scalar(select(Survey))
    links = _survey_message(session, survey.id).payload["answer_links"]
    response = client.get(_path(links["6"]), headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json["score"] == 6
    page = client.get(_path(links["5"]))
    assert page.status_code == 200 and b"<form" in page.data
    answer = client.post(
        _path(links["5"]), data={"comment": "Setup was smooth and the docs are great"}
    )
    assert answer.status_code == 200
    session.expire_all()
    stored = session.scalar(select(SurveyResponse))
    assert stored.score == 5 and stored.survey_id == survey.id
    assert stored.sentiment > 0.5 and "onboarding" in stored.topics
    assert session.get(Survey, survey.id).status == "answered"
    assert len(session.scalars(select(SurveyResponse)).all()) == 1


def test_tampered_or_foreign_links_are_refused(app, client, session, make_account):
    """Changing the survey id or score in a link breaks its signature: 400, nothing stored."""
    from hub.feedback.links import answer_token
    from hub.growth.tokens import sign

    make_account("T", email="o@t.io", tenure_days=14)
    _send(app)
    survey = session.scalar(select(Survey))
    token = _path(_survey_message(session, survey.id).payload["answer_links"]["7"]).split("/")[-1]
    _, _, signature = token.rpartition(".")
    for bad in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "eyJzIjoxLCJ2IjoxfQ." + signature,
        "nonsense",
    ):
        response = client.get(f"/s/{bad}", headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert response.json["error"]["code"] == "invalid_link"
    with app.test_request_context():
        forged = sign("offer-view", {"s": survey.id, "v": 1})  # right key, wrong purpose
        other_secret = sign("survey-answer", {"s": survey.id, "v": 1}, secret="not-ours")
        assert answer_token(survey.id, 7) != forged
    assert client.get(f"/s/{forged}").status_code == 400
    assert client.get(f"/s/{other_secret}").status_code == 400
    assert session.scalars(select(SurveyResponse)).all() == []


def test_closed_survey_refuses_answers(app, client, session, make_account):
    """After the survey expires its links answer 410 and store nothing."""
    make_account("E", email="o@e.io", tenure_days=14)
    _send(app)
    survey = session.scalar(select(Survey))
    link = _survey_message(session, survey.id).payload["answer_links"]["3"]
    _send(app, days=20)  # expires the open survey
    session.expire_all()
    assert session.get(Survey, survey.id).status == "expired"
    assert client.get(_path(link)).status_code == 410
    assert session.scalars(select(SurveyResponse)).all() == []


def test_detractor_opens_one_case_and_promoter_gets_invite(app, client, session, make_account):
    """NPS 2 with an angry comment opens one Case (P1 for a big account); NPS 10 invites."""
    make_account("Big", segment="institution", email="cfo@big.io", tenure_days=90, mrr=5000)
    make_account("Fan", email="fan@fan.io", tenure_days=90)
    _send(app)
    surveys = {s.account_id: s for s in session.scalars(select(Survey))}
    big, fan = sorted(surveys)
    big_links = _survey_message(session, surveys[big].id).payload["answer_links"]
    client.get(_path(big_links["2"]))
    client.post(
        _path(big_links["2"]),
        data={"comment": "The app crashes constantly, it is terrible and we are very frustrated."},
    )
    client.get(_path(big_links["1"]))  # changes the score: still one Case
    cases = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sf_case")).all()
    assert len(cases) == 1
    assert cases[0].payload["priority"] == "High" and "NPS" in cases[0].body
    fan_links = _survey_message(session, surveys[fan].id).payload["answer_links"]
    client.get(_path(fan_links["10"]))
    invite = session.scalar(
        select(OutboxMessage).where(OutboxMessage.step_key == "referral_invite")
    )
    assert invite is not None and invite.payload["link"].startswith(f"{BASE_URL}/r/")
    session.expire_all()
    answer = session.scalar(select(SurveyResponse).where(SurveyResponse.account_id == big))
    assert answer.priority == "P1" and "reliability" in answer.topics and answer.sentiment < -0.5


def test_metrics_response_rate_and_nps_trend(app, client, session, admin_headers, make_account):
    """Response rates and NPS are computed from the stored surveys and answers."""
    for n in range(4):
        make_account(f"M{n}", email=f"o@m{n}.io", tenure_days=90)
    _send(app)
    surveys = session.scalars(select(Survey)).all()
    for survey, score in zip(surveys[:3], (10, 9, 3), strict=True):
        link = _survey_message(session, survey.id).payload["answer_links"][str(score)]
        client.get(_path(link))
    doc = client.get("/api/feedback/metrics", headers=admin_headers).json
    assert doc["response_rates"]["quarterly_health"] == {
        "sent": 4,
        "answered": 3,
        "response_rate": 0.75,
    }
    month = doc["months"][-1]
    assert month["nps_responses"] == 3 and month["nps"] == round(100 * (2 - 1) / 3, 1)


def test_sentiment_accuracy_on_labelled_comments(capsys):
    """VADER with the shipped thresholds labels the written comments well above chance."""
    import hub.feedback.config  # noqa: F401
    from bench.sentiment import evaluate
    from hub.growth.documents import defaults

    items = yaml.safe_load(DATA.read_text())
    assert len(items) >= 40 and {i["label"] for i in items} == {"positive", "neutral", "negative"}
    result = evaluate(items, defaults("feedback"))
    with capsys.disabled():
        print(
            f"\nsentiment accuracy {result['accuracy']:.3f} on {result['items']} comments, "
            f"recall {result['recall']}"
        )
    assert result["accuracy"] >= 0.7  # a floor well above the 0.33 of guessing
    assert result["recall"]["negative"] >= 0.7


def test_in_app_answer_via_api_and_bad_scores(app, client, session, admin_headers, make_account):
    """The product can answer a survey or record its own; out-of-scale scores are 422."""
    account = make_account("P", email="o@p.io", tenure_days=14)
    _send(app)
    survey = session.scalar(select(Survey))
    bad = client.post(
        f"/api/feedback/surveys/{survey.id}/answer", json={"score": 9}, headers=admin_headers
    )
    assert bad.status_code == 422 and bad.json["error"]["code"] == "bad_answer"
    good = client.post(
        f"/api/feedback/surveys/{survey.id}/answer",
        json={"score": 6, "comment": "ok"},
        headers=admin_headers,
    )
    assert good.status_code == 200 and good.json["score"] == 6
    own = client.post(
        "/api/feedback/responses",
        json={
            "account_id": account.id,
            "kind": "csat",
            "score": 1,
            "comment": "Billing charged us twice",
        },
        headers=admin_headers,
    )
    assert own.status_code == 201 and "pricing" in own.json["topics"]
    assert (
        client.post(
            "/api/feedback/responses",
            json={"account_id": account.id, "kind": "nps", "score": 11},
            headers=admin_headers,
        ).status_code
        == 422
    )
