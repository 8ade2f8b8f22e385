"""Engine rules: escalation paths, goals, guards at queue time, dry-run, exits, edits,
milestones and lifecycle stages, and measured outcomes beside targets."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.models import JourneyEnrolment, MetricSample, Milestone, OutboxMessage, StepOutcome
from hub.playbooks import loader, outcomes
from hub.playbooks.engine import YOUNG_COLLECTION_EVERY, evaluate, fewer_collections
from hub.playbooks.loader import LivePlaybook
from hub.playbooks.schema import parse_playbook
from tests.playbooks.conftest import T0, add_account, add_contact, add_event, at


def only(*keys: str) -> dict[str, LivePlaybook]:
    """The shipped defaults named, as live playbooks."""
    return {
        key: LivePlaybook(loader.parse(loader.default_sources()[key]), 0, True, None, "default")
        for key in keys
    }


def busy_then_silent(session, account, silent_from: int) -> None:
    """Three sessions a day for 28 days, then nothing from ``silent_from`` on."""
    for d in range(silent_from - 28, silent_from):
        for h in (9, 11, 15):
            add_event(session, account, "session_start", at(d, h))


def test_usage_decline_escalates_outreach_call_executive(session):
    """No recovery: outreach, then a success-manager Task, then an executive Task; escalated."""
    account = add_account(
        session,
        "mining_farm",
        signup=T0.date() - timedelta(days=90),
        lifecycle_stage="adoption",
        salesforce_id="001000000000001AAA",
    )
    add_contact(session, account)
    busy_then_silent(session, account, -3)
    session.commit()
    pbs = only("intervention_usage_decline")
    for day in (0, 2, 4, 6, 11, 14, 21, 25):
        evaluate(session, now=at(day), playbooks=pbs)
        session.commit()
    sent = [
        (m.step_key, m.channel)
        for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    ]
    assert sent == [
        ("personalised_outreach", "email"),
        ("success_manager_call", "sf_task"),
        ("success_manager_call.slack", "slack"),
        ("executive_involvement", "sf_task"),
    ]
    enrolment = session.scalar(select(JourneyEnrolment))
    assert enrolment.outcome == "escalated" and enrolment.status == "completed"
    steps = dict(session.execute(select(StepOutcome.step_key, StepOutcome.outcome)).all())
    assert steps == {
        "personalised_outreach": "escalated",
        "success_manager_call": "not_met",
        "executive_involvement": "not_met",
    }
    task = session.scalar(
        select(OutboxMessage).where(OutboxMessage.step_key == "success_manager_call")
    )
    assert task.payload["priority"] == "High" and task.payload["due_in_days"] == 2
    report = outcomes.report(session, pbs)["intervention_usage_decline"]
    assert report["measured"]["success_rate"] == 0.0 and report["measured"]["escalated"] == 1
    assert report["target"]["success_rate"] == 0.78  # beside, never instead of, the measurement
    assert report["segments"]["mining_farm"]["finished"] == 1


def test_usage_recovering_after_outreach_meets_the_goal(session):
    """Use back within 4 days: the outreach step and the enrolment are goal_met, no Task."""
    account = add_account(
        session,
        "individual_miner",
        signup=T0.date() - timedelta(days=90),
        lifecycle_stage="adoption",
    )
    add_contact(session, account)
    busy_then_silent(session, account, -3)
    session.commit()
    pbs = only("intervention_usage_decline")
    evaluate(session, now=at(0), playbooks=pbs)
    session.commit()
    for d in (0, 1, 2):
        for h in (9, 11, 15, 17):
            add_event(session, account, "session_start", at(d, h))
    session.commit()
    evaluate(session, now=at(3), playbooks=pbs)
    session.commit()
    enrolment = session.scalar(select(JourneyEnrolment))
    assert enrolment.outcome == "goal_met"
    assert [m.channel for m in session.scalars(select(OutboxMessage))] == ["email"]
    report = outcomes.report(session, pbs)["intervention_usage_decline"]
    assert report["measured"]["success_rate"] == 1.0


def _probe(steps: str, extra: str = "") -> dict[str, LivePlaybook]:
    text = (
        f"key: probe\nname: P\ntrigger: {{journey_day: {{max_day: 1}}}}\n{extra}\nsteps:\n{steps}"
    )
    return {"probe": LivePlaybook(parse_playbook(text), 0, True, None, "default")}


THREE_EMAILS = "".join(
    f"  - key: mail_{i}\n    send: {{channel: email, subject: s{i}, text: t}}\n" for i in range(3)
)


def test_frequency_cap_suppresses_the_third_message_of_the_day(session):
    """Two customer messages per day per contact across playbooks; the third is suppressed."""
    account = add_account(session)
    add_contact(session, account)
    session.commit()
    evaluate(session, now=at(0), playbooks=_probe(THREE_EMAILS))
    session.commit()
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.status for r in rows] == ["pending", "pending", "suppressed"]
    assert rows[2].last_error == "frequency cap: 2 per 1 days"


def test_quiet_hours_defer_to_the_contacts_morning(session):
    """22:00 in Singapore: the e-mail is due at 08:00 local (00:00 UTC); in-app is not held."""
    account = add_account(session, timezone="UTC")
    add_contact(session, account, timezone="Asia/Singapore")
    session.commit()
    steps = (
        "  - key: mail\n    send: {channel: email, subject: s, text: t}\n"
        "  - key: note\n    send: {channel: inapp, text: t}\n"
    )
    now = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    evaluate(session, now=now, playbooks=_probe(steps))
    session.commit()
    rows = {r.channel: r for r in session.scalars(select(OutboxMessage))}
    assert rows["email"].due_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    assert rows["email"].last_error == "deferred: quiet hours"
    assert rows["inapp"].due_at == now


def test_dry_run_mode_records_without_sending(session):
    """A playbook in dry_run mode records messages as dry_run; the dispatcher ignores them."""
    account = add_account(session)
    add_contact(session, account)
    session.commit()
    one = "  - key: mail\n    send: {channel: email, subject: s, text: t}\n"
    evaluate(session, now=at(0), playbooks=_probe(one, extra="mode: dry_run"))
    session.commit()
    row = session.scalar(select(OutboxMessage))
    assert row.status == "dry_run"
    assert session.scalar(select(JourneyEnrolment.dry_run)) is True


def test_exit_when_ends_the_journey(session):
    """An account that churns mid-journey leaves it (exited, not_met)."""
    account = add_account(session)
    add_contact(session, account)
    session.commit()
    steps = (
        "  - key: pause\n    wait: {for: 5d}\n"
        "  - key: mail\n    send: {channel: email, text: t, subject: s}\n"
    )
    pbs = _probe(steps, extra="exit_when: {status: [churned]}")
    evaluate(session, now=at(0), playbooks=pbs)
    session.commit()
    account.status = "churned"
    session.commit()
    evaluate(session, now=at(6), playbooks=pbs)
    session.commit()
    enrolment = session.scalar(select(JourneyEnrolment))
    assert (enrolment.status, enrolment.outcome) == ("exited", "not_met")
    assert session.scalar(select(OutboxMessage.id)) is None


def test_an_edit_that_removes_the_current_step_exits_cleanly(session):
    """Journeys follow the newest version by step key; a removed step ends the enrolment."""
    account = add_account(session)
    add_contact(session, account)
    session.commit()
    first = _probe(
        "  - key: pause\n    wait: {for: 2d}\n  - key: tail\n    send: {channel: inapp, text: t}\n"
    )
    evaluate(session, now=at(0), playbooks=first)
    session.commit()
    second = _probe("  - key: other\n    send: {channel: inapp, text: t}\n")
    evaluate(session, now=at(3), playbooks=second)
    session.commit()
    enrolment = session.scalar(select(JourneyEnrolment))
    assert enrolment.status == "exited" and enrolment.context["exit_reason"] == "step_removed"


def test_set_field_and_stage_progress_from_milestones(session):
    """Events and metrics reach milestones; the stage moves onboarding -> adoption -> expansion."""
    account = add_account(session, "individual_miner", signup=T0.date() - timedelta(days=40))
    add_event(session, account, "hardware_connection_complete", at(-35))
    add_event(session, account, "optimization_run", at(-30))
    session.add(
        MetricSample(
            account_id=account.id,
            source="t",
            subject="",
            metric="efficiency_j_th",
            value=24.0,
            measured_at=at(-5),
        )
    )
    for feature in ("rig_monitoring", "auto_tuning", "alerts"):
        add_event(session, account, "feature_used", at(-2), feature=feature)
    session.commit()
    evaluate(session, now=at(0), playbooks={})
    session.commit()
    reached = dict(session.execute(select(Milestone.key, Milestone.reached_at)).all())
    assert reached["hardware_connection_complete"] == at(-35)
    assert reached["first_optimization_complete"] == at(-30)
    assert reached["efficient_operation"] == at(-5)
    assert "key_features_adopted" in reached
    session.refresh(account)
    assert account.lifecycle_stage == "expansion"


def test_milestones_are_as_of_now(session):
    """Evaluated at an earlier time, later events do not count (time travel is exact)."""
    account = add_account(session, "crypto_trader", signup=T0.date())
    add_event(session, account, "portfolio_connected", at(5))
    session.commit()
    evaluate(session, now=at(1), playbooks={})
    session.commit()
    assert session.scalar(select(Milestone.id)) is None
    evaluate(session, now=at(6), playbooks={})
    session.commit()
    assert session.scalar(select(Milestone.key)) == "portfolio_connected"


def test_evaluation_collects_young_garbage_less_often_and_restores_the_thresholds():
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], YOUNG_COLLECTION_EVERY)
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a chunk failed")
    assert gc.get_threshold() == before
