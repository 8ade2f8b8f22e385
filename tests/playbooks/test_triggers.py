"""Each trigger, evaluated through the engine against real rows (facts loaded in bulk)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.models import JourneyEnrolment, MetricSample, OutboxMessage, SurveyResponse
from hub.playbooks.engine import evaluate
from hub.playbooks.loader import LivePlaybook
from hub.playbooks.schema import parse_playbook
from tests.playbooks.conftest import (
    T0,
    add_account,
    add_contact,
    add_event,
    add_prediction,
    add_score,
    at,
)

DEFAULT_STEPS = "  - key: note\n    send: {channel: inapp, text: hello}"


def playbook(
    trigger: str, audience: str = "", steps: str = "", extra: str = "", key: str = "probe"
) -> dict:
    steps = steps or DEFAULT_STEPS
    text = f"""
key: {key}
name: Probe
trigger: {trigger}
{audience}
{extra}
steps:
{steps}
"""
    pb = parse_playbook(text)
    return {key: LivePlaybook(pb, 0, True, None, "default")}


def enrolments(session):
    return session.scalars(select(JourneyEnrolment).order_by(JourneyEnrolment.id)).all()


def run(session, pbs, now):
    report = evaluate(session, now=now, playbooks=pbs)
    session.commit()
    return report


def test_journey_day_enrols_new_accounts_only(session):
    """Accounts within max_day of signup enrol once; older ones never."""
    fresh = add_account(session, signup=T0.date())
    add_account(session, signup=T0.date() - timedelta(days=10))
    add_contact(session, fresh)
    pbs = playbook("{journey_day: {max_day: 2}}")
    run(session, pbs, at(0))
    run(session, pbs, at(1))
    rows = enrolments(session)
    assert [(e.account_id, e.trigger_ref) for e in rows] == [
        (fresh.id, f"signup:{T0.date().isoformat()}")
    ]


def test_event_trigger_fires_per_event_with_reentry(session):
    """Each new event is its own firing; the same event never twice."""
    account = add_account(session)
    add_event(session, account, "ticket_escalated", at(0, 9))
    pbs = playbook(
        "{event: {name: ticket_escalated, within: 1d}}",
        extra="reentry: {allowed: true, max: 5, per_days: 30}",
    )
    run(session, pbs, at(0, 10))
    run(session, pbs, at(0, 11))  # the same event again: nothing new
    add_event(session, account, "ticket_escalated", at(0, 12))
    run(session, pbs, at(0, 13))
    assert [e.occurrence for e in enrolments(session)] == [1, 2]


def test_payment_failed_uses_the_stripe_event(session):
    """invoice.payment_failed from the Stripe ingest enrols the account."""
    account = add_account(session)
    add_event(session, account, "invoice.payment_failed", at(0, 9))
    run(session, playbook("{payment_failed: {within: 2d}}"), at(1))
    assert enrolments(session)[0].trigger_ref.startswith("event:invoice.payment_failed:")


def test_milestone_reached_and_missed(session):
    """Reached: within the look-back. Missed: past by_day without it."""
    quick = add_account(session, signup=T0.date())
    slow = add_account(session, signup=T0.date())
    add_event(session, quick, "hardware_connection_complete", at(1))
    reached = playbook("{milestone_reached: {milestone: hardware_connection_complete, within: 2d}}")
    run(session, reached, at(2))
    assert [e.account_id for e in enrolments(session)] == [quick.id]
    missed = playbook("{milestone_missed: {milestone: hardware_connection_complete, by_day: 3}}")
    run(session, missed, at(2))
    assert len(enrolments(session)) == 1  # day 2: not missed yet
    run(session, missed, at(3))
    assert [e.account_id for e in enrolments(session)][1:] == [slow.id]


def test_tier_entered_left_and_is(session):
    """Entering critical fires once per score row; leaving fires on the way out; 'is' holds."""
    account = add_account(session)
    add_score(session, account, 72, "healthy", at(-2))
    add_score(session, account, 45, "critical", at(-1))
    stale = add_account(session)
    add_score(session, stale, 40, "critical", at(-30))
    entered = playbook("{tier: {entered: [critical], within: 3d}}")
    run(session, entered, at(0))
    run(session, entered, at(0, 14))
    assert [e.account_id for e in enrolments(session)] == [account.id]  # stale: too old
    left = playbook("{tier: {left: [critical]}}", key="probe_left")
    run(session, left, at(0, 15))
    assert len(enrolments(session)) == 1  # still critical
    add_score(session, account, 75, "healthy", at(1))
    run(session, left, at(1, 13))
    assert [e.account_id for e in enrolments(session)][1:] == [account.id]
    state = playbook("{tier: {is: [critical]}}", key="probe_is")
    run(session, state, at(1, 14))
    assert [e.account_id for e in enrolments(session)][2:] == [stale.id]


def test_churn_segment_entered(session):
    """Moving from medium to high churn risk fires; staying high does not re-fire."""
    account = add_account(session)
    add_prediction(session, account, 0.5, "medium", at(-1))
    add_prediction(session, account, 0.8, "high", at(0, 1))
    pbs = playbook("{churn_segment: {entered: [high]}}")
    run(session, pbs, at(0, 2))
    add_prediction(session, account, 0.85, "high", at(1, 1))
    run(session, pbs, at(1, 2))
    assert len(enrolments(session)) == 1


def test_score_crossing_below(session):
    """A score crossing below the threshold fires; one already below does not."""
    account = add_account(session)
    add_score(session, account, 62, "at_risk", at(-1))
    add_score(session, account, 48, "critical", at(0, 1))
    run(session, playbook("{score: {below: 50}}"), at(0, 2))
    assert enrolments(session)[0].context["trigger"]["from"] == 62


def _daily_metric(session, account, metric, values, last_day):
    """One sample per day ending the day before ``last_day``."""
    for i, value in enumerate(reversed(values)):
        day = at(last_day - 1 - i, 23)
        session.add(
            MetricSample(
                account_id=account.id,
                source="test",
                subject="",
                metric=metric,
                value=value,
                measured_at=day,
            )
        )
    session.flush()


def test_metric_decline_against_own_baseline(session):
    """Three days under 90 % of the account's own 28-day mean fire; two days do not."""
    falling = add_account(session, signup=T0.date() - timedelta(days=60))
    blip = add_account(session, signup=T0.date() - timedelta(days=60))
    _daily_metric(session, falling, "hashrate_ths", [100.0] * 28 + [85, 84, 83], 0)
    _daily_metric(session, blip, "hashrate_ths", [100.0] * 28 + [99, 85, 84], 0)
    run(
        session,
        playbook(
            "{metric_decline: {metric: hashrate_ths, recent_days: 3, baseline_days: 28, pct: 10}}"
        ),
        at(0),
    )
    rows = enrolments(session)
    assert [e.account_id for e in rows] == [falling.id]
    assert rows[0].context["trigger"]["baseline"] == 100.0


def test_metric_rising_when_higher_is_worse(session):
    """direction: up fires when efficiency (J/TH) rises above the baseline."""
    account = add_account(session, signup=T0.date() - timedelta(days=60))
    _daily_metric(session, account, "efficiency_j_th", [22.0] * 28 + [26, 27, 26], 0)
    run(
        session,
        playbook("{metric_decline: {metric: efficiency_j_th, pct: 10, direction: up}}"),
        at(0),
    )
    assert len(enrolments(session)) == 1


def test_usage_decline_counts_days_without_events_as_zero(session):
    """Usage (session/feature events per day) falling to nothing for 3 days fires."""
    account = add_account(session, signup=T0.date() - timedelta(days=60))
    for d in range(-31, -3):
        for h in (9, 11, 15):
            add_event(session, account, "session_start", at(d, h))
    run(session, playbook("{metric_decline: {metric: usage, pct: 30}}"), at(0))
    assert enrolments(session)[0].context["trigger"]["recent_mean"] == 0.0


def test_feature_unused_per_segment(session):
    """A key feature of the segment unused for 14 days fires, naming it."""
    account = add_account(session, "crypto_trader", signup=T0.date() - timedelta(days=90))
    add_event(session, account, "feature_used", at(-3), feature="portfolio_tracker")
    add_event(session, account, "feature_used", at(-20), feature="trade_signals")
    trigger = (
        "{feature_unused: {days: 14,"
        " features: {crypto_trader: [portfolio_tracker, trade_signals]}}}"
    )
    run(session, playbook(trigger), at(0))
    assert enrolments(session)[0].context["trigger"]["unused_features"] == ["trade_signals"]


def test_nps_answer_below_six_targets_the_answering_contact(session):
    """A detractor answer fires once, and the message goes to the contact who answered."""
    account = add_account(session)
    add_contact(session, account, email="first@x.example")
    critic = add_contact(session, account, email="critic@x.example")
    session.add(
        SurveyResponse(
            account_id=account.id, contact_id=critic.id, kind="nps", score=3, answered_at=at(0, 9)
        )
    )
    session.add(
        SurveyResponse(
            account_id=account.id, contact_id=None, kind="nps", score=9, answered_at=at(0, 8)
        )
    )
    session.flush()
    pbs = playbook(
        "{nps_answer: {score: {lt: 6}, within: 2d}}",
        steps="  - key: reply\n    send: {channel: email, text: sorry, subject: s}",
    )
    run(session, pbs, at(0, 10))
    run(session, pbs, at(0, 11))
    assert len(enrolments(session)) == 1
    assert session.scalar(select(OutboxMessage.contact_id)) == critic.id


def test_days_before_renewal(session):
    """60 days before renewal fires; 61 does not."""
    due = add_account(session, renewal_date=T0.date() + timedelta(days=60))
    add_account(session, renewal_date=T0.date() + timedelta(days=61))
    run(session, playbook("{renewal: {days_before: 60}}"), at(0))
    assert [e.account_id for e in enrolments(session)] == [due.id]


def test_churned_window(session):
    """Win-back windows: churned 10 days ago is in 0-30, not in 31-90."""
    gone = add_account(session, status="churned", churned_at=at(-10))
    run(session, playbook("{churned: {min_days: 31, max_days: 90}}"), at(0))
    assert enrolments(session) == []
    run(session, playbook("{churned: {max_days: 30}}"), at(0))
    assert [e.account_id for e in enrolments(session)] == [gone.id]


def test_cohort_entry_on_account_or_contact(session):
    """An account, or one of its contacts, in the cohort enrols once."""
    by_account = add_account(session, cohorts=["beta"])
    by_contact = add_account(session)
    add_contact(session, by_contact, cohorts=["beta"])
    add_account(session, cohorts=["other"])
    pbs = playbook("{cohort_entered: {cohort: beta}}")
    run(session, pbs, at(0))
    run(session, pbs, at(1))
    assert sorted(e.account_id for e in enrolments(session)) == [by_account.id, by_contact.id]


def test_manual_trigger_only_via_enrol_step(session):
    """A manual playbook is entered only by another playbook's enrol step."""
    account = add_account(session, attributes={"vip": True})
    manual = parse_playbook(
        "key: vip_care\nname: V\ntrigger: {manual: {}}\n"
        "steps:\n  - key: hello\n    send: {channel: inapp, text: hi}\n"
    )
    entry = parse_playbook(
        "key: router\nname: R\ntrigger: {attribute: {vip: true}}\n"
        "steps:\n  - key: hand_over\n    enrol: {playbook: vip_care}\n"
    )
    pbs = {
        "vip_care": LivePlaybook(manual, 0, True, None, "default"),
        "router": LivePlaybook(entry, 0, True, None, "default"),
    }
    run(session, {"vip_care": pbs["vip_care"]}, at(0))
    assert enrolments(session) == []
    run(session, pbs, at(0))
    keys = [(e.playbook_key, e.trigger_ref) for e in enrolments(session)]
    assert ("vip_care", "from:router:1") in keys
    assert account.id == enrolments(session)[0].account_id


def test_enrol_chain_longer_than_the_rounds_is_stored_and_continued_next_run(session):
    """Enrolments made in the last enrol round are stored (not advanced) and advance next run."""
    account = add_account(session, attributes={"vip": True})
    chain = ["chain_a", "chain_b", "chain_c", "chain_d"]
    pbs = {}
    for i, key in enumerate(chain):
        trigger = "{attribute: {vip: true}}" if i == 0 else "{manual: {}}"
        step = (
            f"enrol: {{playbook: {chain[i + 1]}}}"
            if i + 1 < len(chain)
            else "send: {channel: inapp, text: hi}"
        )
        text = f"key: {key}\nname: C\ntrigger: {trigger}\nsteps:\n  - key: go\n    {step}\n"
        pbs[key] = LivePlaybook(parse_playbook(text), 0, True, None, "default")
    run(session, pbs, at(0))
    rows = {e.playbook_key: e for e in enrolments(session)}
    assert sorted(rows) == chain and all(e.account_id == account.id for e in rows.values())
    assert rows["chain_d"].status == "active" and rows["chain_d"].context.get("step") is None
    run(session, pbs, at(0) + timedelta(minutes=10))
    session.expire_all()
    assert enrolments(session)[-1].context.get("step") == "go"
