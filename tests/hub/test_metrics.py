"""KPIs on hand-built data: each figure checked against an answer worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hub import metrics
from hub.metrics.base import Period
from hub.models import (
    Account,
    ChurnModelVersion,
    Event,
    HealthScore,
    JourneyEnrolment,
    Milestone,
    Offer,
    PlaybookVersion,
    Referral,
    ReferralCode,
    SubscriptionChange,
    Survey,
    SurveyResponse,
)

JAN = Period(date(2026, 1, 1), date(2026, 1, 30))  # 30 days


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def account(session, name, segment="mining_farm", signup=date(2025, 6, 1), churned=None, **kw):
    row = Account(
        name=name,
        segment=segment,
        signup_date=signup,
        churned_at=at(churned) if churned else None,
        status="churned" if churned else "active",
        **kw,
    )
    session.add(row)
    session.flush()
    return row


def figures(session, period=JAN, segment=None):
    return metrics.compute(session, period, segment=segment, as_of=period.end_at)


def test_retention_counts_accounts_whose_mark_fell_in_the_period(session):
    """30-day retention: of accounts whose day-30 mark is in January, the share alive then."""
    signup = date(2025, 12, 5)  # day 30 = 2026-01-04
    account(session, "kept", signup=signup)
    account(session, "lost early", signup=signup, churned=date(2025, 12, 20))
    account(session, "lost after the mark", signup=signup, churned=date(2026, 1, 10))
    account(session, "mark outside", signup=date(2025, 11, 1))
    values = figures(session)["all"]["values"]
    assert values["retention_30d"] == pytest.approx(2 / 3, abs=1e-6)
    assert values["retention_365d"] is None  # nobody's 365th day fell in January


def test_retention_by_segment_and_all(session):
    """Each segment is measured on its own accounts; ``all`` pools them."""
    signup = date(2025, 10, 10)  # day 90 = 2026-01-08
    account(session, "farm kept", segment="mining_farm", signup=signup)
    account(session, "farm lost", "mining_farm", signup, churned=date(2025, 12, 1))
    account(session, "trader kept", segment="crypto_trader", signup=signup)
    out = figures(session)
    assert out["mining_farm"]["values"]["retention_90d"] == pytest.approx(0.5)
    assert out["crypto_trader"]["values"]["retention_90d"] == pytest.approx(1.0)
    assert out["all"]["values"]["retention_90d"] == pytest.approx(2 / 3, abs=1e-6)
    assert out["institution"]["values"]["retention_90d"] is None
    only = metrics.compute(session, JAN, segment="mining_farm", as_of=JAN.end_at)
    assert set(only) == {"mining_farm"}
    assert only["mining_farm"]["values"]["retention_90d"] == pytest.approx(0.5)


def test_cohort_table_months_since_signup(session):
    """Cohort rows hold the share alive at each monthly mark; unobserved months are None."""
    account(session, "a", signup=date(2025, 11, 3))
    account(session, "b", signup=date(2025, 11, 20), churned=date(2025, 12, 25))
    account(session, "c", signup=date(2026, 1, 2))
    table = figures(session)["all"]["cohorts"]
    rows = {r["cohort"]: r for r in table["rows"]}
    nov = rows["2025-11"]
    assert nov["size"] == 2
    # month 0: both; month 1 (Dec 3 / Dec 20): both alive; month 2 (Jan 3 / Jan 20): only a
    assert nov["retention"][:3] == [1.0, 1.0, 0.5]
    assert nov["retention"][3] is None  # Feb marks are after the period end
    assert rows["2026-01"]["retention"][:2] == [1.0, None]


def test_logo_churn_and_lifespan(session):
    """Churn per 30 days = lost / customers at start; lifespan is its inverse in months."""
    for i in range(8):
        account(session, f"stays {i}", signup=date(2025, 3, 1))
    account(session, "lost 1", signup=date(2025, 3, 1), churned=date(2026, 1, 5))
    account(session, "lost 2", signup=date(2025, 7, 1), churned=date(2026, 1, 25))
    account(session, "new in period", signup=date(2026, 1, 10))
    values = figures(session)["all"]["values"]
    assert values["logo_churn_rate"] == pytest.approx(0.2)
    assert values["customer_lifespan_months"] == pytest.approx(5.0)


def test_lifespan_is_no_data_without_churn(session):
    """No churn in the period gives no lifespan figure, with a note saying why."""
    account(session, "stays", signup=date(2025, 3, 1))
    out = figures(session)["all"]
    assert out["values"]["logo_churn_rate"] == 0
    assert out["values"]["customer_lifespan_months"] is None
    assert "no account churned" in out["notes"]["customer_lifespan_months"]


def _event(session, acct, name, when, distinct_id=None, **props):
    session.add(
        Event(
            account_id=acct.id,
            name=name,
            occurred_at=when,
            properties=props,
            source="product",
            source_event_id=f"{acct.id}-{name}-{when.isoformat()}-{distinct_id}-{props}",
            distinct_id=distinct_id,
        )
    )


def test_dau_mau_from_events(session):
    """u1 active 30 days, u2 on 3 days, u3 once: DAU = 34/30, MAU = 3, DAU/MAU = 34/90."""
    a = account(session, "a")
    b = account(session, "b", segment="crypto_trader")
    for d in range(30):
        _event(session, a, "session_start", at(JAN.start + timedelta(days=d)), "u1")
        _event(session, a, "session_start", at(JAN.start + timedelta(days=d), 15), "u1")
    for d in (0, 10, 20):
        _event(session, a, "feature_used", at(JAN.start + timedelta(days=d)), "u2", feature="x")
    _event(session, b, "session_start", at(date(2026, 1, 15)), "u3")
    _event(session, b, "email_opened", at(date(2026, 1, 16)), "u4")  # not an activity event
    _event(session, b, "session_start", at(date(2026, 2, 1)), "u5")  # after the period
    session.flush()
    out = figures(session)
    values = out["all"]["values"]
    assert values["dau"] == pytest.approx(34 / 30, abs=1e-5)
    assert values["mau"] == 3
    assert values["dau_mau"] == pytest.approx(34 / 90, abs=1e-5)
    assert out["crypto_trader"]["values"]["mau"] == 1
    assert out["institution"]["values"]["dau_mau"] is None


def test_feature_adoption(session):
    """Share of the segment's key features used, averaged over active accounts."""
    a = account(session, "uses two of four", segment="crypto_trader")
    b = account(session, "active, no features", segment="crypto_trader")
    day = at(date(2026, 1, 5))
    _event(session, a, "feature_used", day, "u1", feature="portfolio_tracker")
    _event(session, a, "feature_used", day + timedelta(hours=1), "u1", feature="tax_reports")
    _event(session, a, "feature_used", day + timedelta(hours=2), "u1", feature="not_key")
    _event(session, b, "session_start", day, "u2")
    session.flush()
    assert figures(session)["all"]["values"]["feature_adoption"] == pytest.approx(0.25)


def test_nps_csat_ces_and_support(session):
    """NPS from 10,9,8,5 is 25; CSAT 2 of 3; CES mean; support CSAT over support surveys."""
    a = account(session, "a")
    day = at(date(2026, 1, 10))
    for score in (10, 9, 8, 5):
        session.add(SurveyResponse(account_id=a.id, kind="nps", score=score, answered_at=day))
    survey = Survey(definition_key="support_followup", kind="csat", account_id=a.id)
    session.add(survey)
    session.flush()
    session.add(
        SurveyResponse(survey_id=survey.id, account_id=a.id, kind="csat", score=2, answered_at=day)
    )
    session.add(SurveyResponse(account_id=a.id, kind="csat", score=5, answered_at=day))
    session.add(SurveyResponse(account_id=a.id, kind="csat", score=4, answered_at=day))
    session.add(SurveyResponse(account_id=a.id, kind="ces", score=6, answered_at=day))
    session.add(SurveyResponse(account_id=a.id, kind="ces", score=3, answered_at=day))
    session.add(
        SurveyResponse(
            account_id=a.id, kind="nps", score=0, answered_at=at(JAN.end) + timedelta(days=1)
        )
    )
    session.flush()
    values = figures(session)["all"]["values"]
    assert values["nps"] == pytest.approx(25.0)
    assert values["csat"] == pytest.approx(2 / 3, abs=1e-6)
    assert values["ces"] == pytest.approx(4.5)
    assert values["support_satisfaction"] == 0.0


def _change(session, acct, when, kind, before, after):
    session.add(
        SubscriptionChange(
            account_id=acct.id,
            occurred_at=when,
            kind=kind,
            mrr_before=before,
            mrr_after=after,
            source="stripe",
            source_event_id=f"{acct.id}-{kind}-{when.isoformat()}",
        )
    )


def test_net_and_gross_revenue_retention(session):
    """Start 600; +50 expansion, -50 contraction, -300 churn: NRR 0.5, GRR 250/600."""
    before = at(date(2025, 9, 1))
    during = at(date(2026, 1, 15))
    a, b, c, d = (account(session, n) for n in "abcd")
    _change(session, a, before, "new", 0, 100)
    _change(session, a, during, "expansion", 100, 150)
    _change(session, b, before, "new", 0, 200)
    _change(session, b, during, "contraction", 200, 150)
    _change(session, c, before, "new", 0, 300)
    _change(session, c, during, "churn", 300, 0)
    _change(session, d, during, "new", 0, 500)  # new in the period: not in the base
    session.flush()
    out = figures(session)["all"]
    assert out["values"]["net_revenue_retention"] == pytest.approx(0.5)
    assert out["values"]["gross_revenue_retention"] == pytest.approx(250 / 600, abs=1e-6)
    assert out["revenue"]["start"] == 600 and out["revenue"]["churn"] == 300


def test_offer_and_referral_rates(session):
    """Upsell won 1 of 2, cross-sell 0 of 1; 1 of 4 customers referred a signup."""
    a, b, c, d = (account(session, n) for n in "abcd")
    day = at(date(2026, 1, 3))
    session.add_all(
        [
            Offer(
                account_id=a.id,
                rule_key="u",
                kind="upsell",
                window_key="1",
                status="accepted",
                offered_at=day,
            ),
            Offer(
                account_id=b.id,
                rule_key="u",
                kind="upsell",
                window_key="1",
                status="offered",
                offered_at=day,
            ),
            Offer(
                account_id=c.id,
                rule_key="x",
                kind="cross_sell",
                window_key="1",
                status="declined",
                offered_at=day,
            ),
        ]
    )
    code = ReferralCode(code="ABC", account_id=a.id)
    session.add(code)
    session.flush()
    session.add(Referral(code_id=code.id, status="signed_up", signed_up_at=day))
    session.add(Referral(code_id=code.id, status="clicked", clicked_at=day))
    session.flush()
    values = figures(session)["all"]["values"]
    assert values["upsell_rate"] == pytest.approx(0.5)
    assert values["cross_sell_rate"] == 0.0
    assert values["referral_rate"] == pytest.approx(0.25)
    assert d.id  # four customers in the base


def test_time_to_first_value_and_onboarding_completion(session):
    """TTFV median over first-value dates in the period; completion within 30 days."""
    a = account(session, "a", signup=date(2025, 12, 20))  # window ends Jan 19
    b = account(session, "b", signup=date(2025, 12, 25))  # window ends Jan 24
    c = account(session, "c", signup=date(2025, 11, 1))  # window ended in December
    session.add(
        Milestone(
            account_id=a.id, key="hardware_connection_complete", reached_at=at(date(2025, 12, 22))
        )
    )
    session.add(
        Milestone(
            account_id=a.id, key="first_optimization_complete", reached_at=at(date(2026, 1, 3))
        )
    )
    _event(session, b, "hardware_connection_complete", at(date(2026, 1, 2)))
    _event(session, b, "first_optimization_complete", at(date(2026, 1, 30)))  # too late
    _event(session, c, "first_optimization_complete", at(date(2026, 1, 6)))
    session.flush()
    values = figures(session)["all"]["values"]
    # first value in January: a after 14 days, b after 36, c after 66 -> median 36
    assert values["time_to_first_value_days"] == pytest.approx(36)
    assert values["onboarding_completion"] == pytest.approx(0.5)


def test_success_rates_model_quality_and_roi(session):
    """Goal met 2 of 3 journeys, interventions 1 of 2; ROI from saves and stated inputs."""
    a = account(session, "a", mrr=1000)
    b = account(session, "b")
    session.add(PlaybookVersion(key="risk_save", version=1, yaml="kind: intervention\n"))
    session.add(PlaybookVersion(key="welcome", version=1, yaml="kind: onboarding\n"))
    ended = at(date(2026, 1, 20))
    session.add_all(
        [
            JourneyEnrolment(
                account_id=a.id,
                playbook_key="risk_save",
                playbook_version=1,
                status="completed",
                outcome="goal_met",
                completed_at=ended,
            ),
            JourneyEnrolment(
                account_id=b.id,
                playbook_key="risk_save",
                playbook_version=1,
                status="completed",
                outcome="not_met",
                completed_at=ended,
            ),
            JourneyEnrolment(
                account_id=b.id,
                playbook_key="welcome",
                playbook_version=1,
                status="completed",
                outcome="goal_met",
                completed_at=ended,
            ),
            JourneyEnrolment(
                account_id=a.id,
                playbook_key="welcome",
                playbook_version=1,
                occurrence=2,
                status="completed",
                outcome="not_met",
                completed_at=ended,
                dry_run=True,
            ),
            ChurnModelVersion(
                version="v1",
                algorithm="gb",
                metrics={"roc_auc": 0.7},
                created_at=at(date(2025, 12, 1)),
            ),
            ChurnModelVersion(
                version="v2",
                algorithm="gb",
                metrics={"roc_auc": 0.81},
                active=True,
                created_at=at(date(2026, 1, 1)),
            ),
        ]
    )
    session.flush()
    fig = figures(session)["all"]
    assert fig["values"]["playbook_success"] == pytest.approx(2 / 3, abs=1e-6)
    assert fig["values"]["intervention_success"] == pytest.approx(0.5)
    assert fig["values"]["churn_model_auc"] == pytest.approx(0.81)
    assert [m["roc_auc"] for m in fig["model_quality"]] == [0.7, 0.81]
    settings = metrics.load_settings(session)
    settings["roi"] = {
        "cost_per_save": 500,
        "campaign_costs": 1500,
        "months_of_revenue_per_save": 12,
        "revenue_saved": None,
    }
    shown = metrics.present(fig, settings)
    # one save of 1000 MRR x 12 = 12000; cost 500 + 1500 = 2000 -> ROI 5x
    assert shown["roi"]["revenue_saved"] == 12000
    assert shown["kpis"]["roi"]["value"] == pytest.approx(5.0)


def test_no_data_is_never_shown_as_the_target(session):
    """A KPI with nothing to measure is no_data with a null value, whatever its target."""
    fig = figures(session)["all"]
    shown = metrics.present(fig, metrics.load_settings(session))
    nps = shown["kpis"]["nps"]
    assert nps["value"] is None and nps["status"] == "no_data" and nps["target"] == 40
    assert metrics.format_value("nps", nps["value"]) == "no data"
    assert shown["kpis"]["roi"]["value"] is None


def test_tier_distribution_and_moves(session):
    """Newest score per account gives the tiers; a changed tier since a week ago is a move."""
    a, b = account(session, "a"), account(session, "b")
    old, new = at(date(2026, 1, 20)), at(date(2026, 1, 29))
    session.add_all(
        [
            HealthScore(account_id=a.id, score=80, tier="healthy", computed_at=old),
            HealthScore(account_id=a.id, score=40, tier="critical", computed_at=new),
            HealthScore(account_id=b.id, score=95, tier="champion", computed_at=old),
            HealthScore(account_id=b.id, score=96, tier="champion", computed_at=new),
        ]
    )
    session.flush()
    standing = figures(session)["all"]["standing"]
    assert standing["tiers"] == {"champion": 1, "healthy": 0, "at_risk": 0, "critical": 1}
    moves = standing["tier_moves"]
    assert moves["count"] == 1 and moves["down"] == 1
    assert moves["accounts"][0]["name"] == "a" and moves["accounts"][0]["from"] == "healthy"


def test_targets_and_roi_inputs_can_be_overridden_and_validated(session):
    """Saved targets win over the YAML defaults; bad values name the bad field."""
    assert metrics.load_settings(session)["targets"]["nps"] == 40
    metrics.save_settings(session, {"targets": {"nps": 50}, "roi": {"cost_per_save": 90}}, "t")
    doc = metrics.load_settings(session)
    assert doc["targets"]["nps"] == 50 and doc["targets"]["csat"] == 0.85
    assert doc["roi"]["cost_per_save"] == 90 and doc["roi"]["campaign_costs"] == 1000
    with pytest.raises(metrics.SettingsError) as err:
        metrics.save_settings(
            session, {"targets": {"bogus": 1, "nps": "x"}, "roi": {"cost_per_save": -1}}, "t"
        )
    assert set(err.value.fields) == {"targets.bogus", "targets.nps", "roi.cost_per_save"}


def test_rollup_is_stored_and_read_back(session):
    """The roll-up stores one row per segment and load() reads it instead of recomputing."""
    account(session, "a", signup=date(2025, 12, 5))
    summary = metrics.rollup(session, JAN.end)
    assert "all" in summary["segments"] and "institution" in summary["segments"]
    loaded = metrics.load(session, None, None)
    assert loaded.source == "rollup" and loaded.figures["period"] == JAN.as_dict()
    assert metrics.load(session, JAN, "mining_farm").source == "rollup"
    assert metrics.load(session, Period(date(2026, 1, 2), JAN.end), None).source == "live"
    again = metrics.rollup(session, JAN.end)  # idempotent: replaces, never duplicates
    assert again["segments"] == summary["segments"]
    from hub.models import KpiRollup

    assert session.query(KpiRollup).filter_by(day=JAN.end).count() == len(summary["segments"])
