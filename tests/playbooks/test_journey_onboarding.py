"""The onboarding journey: days 0, 1, 3, 7, 14 with milestones, branches and escalation."""

from __future__ import annotations

from sqlalchemy import select

from hub.models import JourneyEnrolment, OutboxMessage, StepOutcome
from hub.playbooks.engine import evaluate
from tests.playbooks.conftest import T0, add_account, add_contact, add_event, at


def _messages(session, account_id):
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.account_id == account_id)
        .order_by(OutboxMessage.id)
    ).all()


def test_miner_who_never_connects_gets_help_and_a_rep_call(session):
    """Without the hardware milestone: day-1 nudge, day-3 help, day-5 rep Task, no graduation."""
    account = add_account(session, "individual_miner", signup=T0.date())
    add_contact(session, account)
    session.commit()
    for day in (0, 1, 3, 5, 7, 14):
        evaluate(session, now=at(day))
        session.commit()
    steps = [(m.step_key, m.channel) for m in _messages(session, account.id)]
    assert steps == [
        ("day0_welcome", "email"),
        ("day0_checklist", "inapp"),
        ("day1_connect_hardware", "email"),
        ("day3_setup_help", "email"),
        ("day5_setup_call", "sf_task"),
        ("day7_week_one", "email"),
        ("day14_review", "email"),
    ]
    enrolment = session.scalar(select(JourneyEnrolment))
    assert enrolment.status == "completed" and enrolment.outcome == "escalated"
    outcomes = dict(session.execute(select(StepOutcome.step_key, StepOutcome.outcome)).all())
    assert outcomes["day3_setup_help"] == "escalated"
    assert outcomes["day5_setup_call"] == "not_met"
    assert outcomes["graduate"] == "skipped"


def test_miner_who_connects_skips_help_and_graduates(session):
    """Reaching both milestones takes the 'then' branch, meets the goal and moves the stage."""
    account = add_account(session, "individual_miner", signup=T0.date())
    add_contact(session, account)
    add_event(session, account, "hardware_connection_complete", at(0, 18))
    add_event(session, account, "optimization_run", at(5))
    session.commit()
    for day in (0, 1, 3, 7, 14):
        evaluate(session, now=at(day))
        session.commit()
    steps = [m.step_key for m in _messages(session, account.id)]
    assert "day1_connect_hardware" not in steps and "day3_setup_help" not in steps
    assert "day3_first_optimization" in steps  # optimisation not yet run on day 3
    enrolment = session.scalar(select(JourneyEnrolment))
    assert enrolment.outcome == "goal_met"
    session.refresh(account)
    assert account.lifecycle_stage == "adoption"
