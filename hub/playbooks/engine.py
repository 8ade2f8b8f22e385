"""The playbook engine: evaluate every live playbook for a chunk of accounts at ``now``.

Per chunk (one transaction): load facts in bulk (``queries``), detect milestones and move
lifecycle stages (``milestones``), advance active enrolments (``journey``), then fire
triggers and enrol where the guards allow. Messages are queued in the outbox (never sent
here); step outcomes, enrolments and field changes are written with the chunk.

    from hub.playbooks.engine import evaluate
    report = evaluate(session, now=datetime(2026, 3, 1, tzinfo=UTC))  # all accounts

``now`` is explicit everywhere so a test (or a back-fill) moves time by passing it. With
``dry_run=True`` every message is recorded as ``dry_run`` and no field is changed; with
``record_actions=True`` the report lists each action (what the dry-run API shows).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session, make_transient_to_detached

from hub.db import utcnow
from hub.models import Account, JourneyEnrolment, StepOutcome
from hub.playbooks import loader
from hub.playbooks.definition import Node, Playbook
from hub.playbooks.facts import AccountFacts, EvalContext, Needs
from hub.playbooks.guards import (
    GuardSettings,
    cap_hit,
    enrolment_decision,
    quiet_until,
    snoozed,
    unsubscribed,
    zone,
)
from hub.playbooks.journey import Journey, iso
from hub.playbooks.loader import LivePlaybook
from hub.playbooks.milestones import MilestoneConfig, detect, progress_stages
from hub.playbooks.outbox import OutgoingMessage, enqueue_many
from hub.playbooks.queries import account_ranges, load_facts, rollup_config
from hub.playbooks.recipients import primary_contact, recipients
from hub.playbooks.report import EvaluationReport, jsonable
from hub.playbooks.triggers import Firing
from integrations import channels as channel_registry
from integrations.channels.base import CUSTOMER
from scoring.config import FeatureConfig

ENROL_ROUNDS = 3
FEATURE_MILESTONE_DAYS = 30  # "features used" milestones look at the last 30 days
YOUNG_COLLECTION_EVERY = 50_000
"""Allocations between two collections of the youngest generation while evaluating (Python's
default is 700): a chunk makes hundreds of thousands of short-lived objects, and frequent
young collections promote them into full collections of the whole heap (~15% of the CPU)."""


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage less often inside the block (the thresholds are restored after it)."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], YOUNG_COLLECTION_EVERY), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def needs_of(playbooks: dict[str, LivePlaybook], milestones: MilestoneConfig) -> Needs:
    """What the playbooks and the milestone rules read."""
    needs = Needs()
    for live in playbooks.values():
        needs.merge(live.playbook.needs)
    if any(r.features_min for m in milestones.milestones.values() for r in m.rules):
        needs.feature_days = max(needs.feature_days, FEATURE_MILESTONE_DAYS)
    return needs


class Run:
    """One evaluation of a chunk of accounts: collects writes, then flushes them together."""

    def __init__(
        self,
        session: Session,
        playbooks: dict[str, LivePlaybook],
        guards: GuardSettings,
        milestones: MilestoneConfig,
        now: datetime,
        dry_run: bool = False,
        record_actions: bool = False,
        rollups: FeatureConfig | None = None,
    ) -> None:
        self.session = session
        self.playbooks = playbooks
        self.guards = guards
        self.milestone_config = milestones
        self.now = now
        self.dry_run = dry_run
        self.record_actions = record_actions
        self.rollups = rollups
        self.report = EvaluationReport(now=now.isoformat())
        self.messages: list[OutgoingMessage] = []
        self.outcomes: list[dict[str, Any]] = []
        self.new: list[tuple[JourneyEnrolment, AccountFacts]] = []
        self.account_changes: dict[int, dict[str, Any]] = {}
        self.needs = needs_of(playbooks, milestones)
        self.cap_days = max((c.per_days for c in guards.caps), default=0)

    # -- the chunk -------------------------------------------------------------------------
    def evaluate_range(self, lo: int, hi: int, only: list[int] | None = None) -> EvaluationReport:
        facts, enrolments = load_facts(
            self.session, lo, hi, self.now, self.needs, self.cap_days, only, self.rollups
        )
        self.report.accounts += len(facts)
        self.report.chunks += 1
        if not self.dry_run:
            self.report.milestones += len(
                detect(self.session, self.milestone_config, facts, lo, hi, self.now)
            )
            self.report.stage_moves += len(
                progress_stages(self.session, self.milestone_config, facts, self.now)
            )
        for account_id, f in facts.items():
            if snoozed(f.snoozed_until, self.now):
                self.report.skipped["account_snoozed"] += 1
                continue
            for e in enrolments.get(account_id, ()):
                if e.status == "active":
                    self._advance_existing(e, f)
            self._fire(f)
        for _ in range(ENROL_ROUNDS):
            if not self.new:
                break
            batch, self.new = self.new, []
            self._insert_new(batch)
            for e, f in batch:
                Journey(self, self.playbooks[e.playbook_key].playbook, e, f).advance()
        self._insert_new(self.new)  # enrolled in the last round: advanced next time
        self._write()
        return self.report

    def _advance_existing(self, e: JourneyEnrolment, f: AccountFacts) -> None:
        live = self.playbooks.get(e.playbook_key)
        if live is None:
            e.status, e.outcome, e.completed_at = "exited", "not_met", self.now
            e.context = {**(e.context or {}), "exit_reason": "playbook removed"}
            return
        if not live.active(self.now):
            return  # disabled or snoozed: paused where it is
        Journey(self, live.playbook, e, f).advance()

    def _fire(self, f: AccountFacts) -> None:
        ctx = EvalContext(self.now)
        for live in self.playbooks.values():
            if not live.active(self.now):
                continue
            pb = live.playbook
            firing = pb.trigger.fire(f, pb.trigger_params, self.now)
            if firing is None or not pb.audience(f, ctx):
                continue
            self.enrol(pb, f, firing)

    def enrol(self, pb: Playbook, f: AccountFacts, firing: Firing) -> JourneyEnrolment | None:
        past = f.enrolments.get(pb.key, [])
        occurrence, why = enrolment_decision(past, firing.ref, pb.reentry, self.now)
        if occurrence is None:
            self.report.skipped[why] += 1
            return None
        from hub.playbooks.guards import PastEnrolment

        anchor = self.now
        if pb.trigger_name == "journey_day" and f.signup_date is not None:
            anchor = datetime.combine(f.signup_date, time(0), tzinfo=UTC)
        e = JourneyEnrolment(
            account_id=f.id,
            playbook_key=pb.key,
            playbook_version=self.playbooks[pb.key].version,
            occurrence=occurrence,
            trigger_ref=firing.ref,
            status="active",
            current_step=0,
            next_run_at=self.now,
            context={"anchor": iso(anchor), "trigger": jsonable(firing.detail)},
            dry_run=self.dry_run or pb.dry_run,
            enrolled_at=self.now,
            outcome=None,
            completed_at=None,
        )
        f.enrolments.setdefault(pb.key, []).append(
            PastEnrolment(occurrence, "active", self.now, firing.ref)
        )
        self.new.append((e, f))
        self.report.enrolled[pb.key] += 1
        self._action("enrol", f.id, pb.key, trigger=pb.trigger_name, detail=firing.detail)
        return e

    # -- what journeys call back -----------------------------------------------------------
    def step_outcome(self, e: JourneyEnrolment, node: Node, outcome: str, detail) -> None:
        self.outcomes.append(
            {
                "enrolment_id": e.id,
                "step_index": node.index,
                "step_key": node.key,
                "outcome": outcome,
                "detail": jsonable(detail),
                "recorded_at": self.now,
            }
        )
        self._action("step", e.account_id, e.playbook_key, step=node.key, outcome=outcome)

    def finished(self, e: JourneyEnrolment, pb: Playbook) -> None:
        self.report.finished[e.outcome or e.status] += 1
        self._action("finish", e.account_id, pb.key, outcome=e.outcome, status=e.status)

    def send(self, j: Journey, node: Node) -> None:
        params = node.params
        channel = params["channel"]
        cls = channel_registry.get(channel)
        to = recipients(j, params.get("to", "primary"), channel, cls.audience)
        if not to:
            self.report.skipped["no_recipient"] += 1
            self._action("skip", j.f.id, j.pb.key, step=node.key, reason="no_recipient")
            return
        payload = {
            "params": dict(params.get("params") or {}),
            "to": params.get("to", "primary"),
            "detail": (j.state.get("trigger") or {}),
        }
        for key in ("url", "event_type"):
            if params.get(key):
                payload[key] = params[key]
        for contact in to:
            self._queue(
                j,
                node,
                channel,
                cls.audience,
                contact,
                template=params.get("template"),
                subject=params.get("subject"),
                body=params.get("text"),
                payload=payload,
            )

    def task(self, j: Journey, node: Node) -> None:
        params = node.params
        channel = "sf_case" if params.get("kind") == "case" else "sf_task"
        contact = primary_contact(j, None)
        payload: dict[str, Any] = {
            "priority": params.get("priority", "Normal"),
            "detail": j.state.get("trigger") or {},
            "today": self.now.date().isoformat(),
        }
        if params.get("due_in") is not None:
            payload["due_in_days"] = params["due_in"].total_seconds() / 86400
        if params.get("type"):
            payload["type"] = params["type"]
        owner = params.get("owner", "account_owner")
        if owner != "account_owner":
            payload["owner_id"] = owner
        self._queue(
            j,
            node,
            channel,
            "team",
            contact,
            template=None,
            subject=params["subject"],
            body=params.get("description"),
            payload=payload,
        )
        if "slack" in (params.get("notify") or []):
            self._queue(
                j,
                node,
                "slack",
                "team",
                None,
                template=None,
                subject=None,
                body=f"{params['subject']}\n{params.get('description') or ''}".strip(),
                payload={"to": "rep", "detail": payload["detail"]},
                step_key=f"{node.key}.slack",
            )

    def set_field(self, j: Journey, field_name: str, value: Any) -> None:
        f = j.f
        self._action("set", f.id, j.pb.key, field=field_name, value=value)
        if self.dry_run or j.e.dry_run:
            return
        changes = self.account_changes.setdefault(f.id, {})
        if field_name == "lifecycle_stage":
            f.lifecycle_stage = changes["lifecycle_stage"] = str(value)
        elif field_name == "cohorts":
            if value not in f.cohorts:
                f.cohorts = [*f.cohorts, value]
            changes["cohorts"] = list(f.cohorts)
        else:
            name = field_name.split(".", 1)[1]
            f.attributes = {**f.attributes, name: value}
            changes["attributes"] = dict(f.attributes)

    def enrol_from_step(self, j: Journey, key: str) -> None:
        live = self.playbooks.get(key)
        if live is None or not live.active(self.now):
            self.report.skipped["enrol_target_inactive"] += 1
            return
        ref = f"from:{j.pb.key}:{j.e.occurrence}"
        self.enrol(live.playbook, j.f, Firing(ref, {"from_playbook": j.pb.key}))

    # -- messages and guards ---------------------------------------------------------------
    def _queue(
        self,
        j,
        node,
        channel,
        audience,
        contact,
        *,
        template,
        subject,
        body,
        payload,
        step_key: str | None = None,
    ) -> None:
        status, reason, due = "pending", None, self.now
        if self.dry_run or j.e.dry_run:
            status, reason = "dry_run", "dry-run mode"
        elif audience == CUSTOMER and contact is not None:
            if unsubscribed(contact.unsubscribed, channel):
                status, reason = "suppressed", f"contact unsubscribed: {channel}"
            else:
                cap = cap_hit(j.f.sent.get(contact.id, []), channel, self.now, self.guards.caps)
                if cap is not None:
                    status = "suppressed"
                    reason = f"frequency cap: {cap.max} per {cap.per_days} days"
        if status == "pending" and audience == CUSTOMER and contact is not None:
            quiet = self.guards.quiet_hours
            if quiet and channel in quiet.channels:
                until = quiet_until(self.now, zone(contact.timezone, j.f.timezone), quiet)
                if until is not None:
                    due, reason = until, "deferred: quiet hours"
        if status in ("pending", "dry_run") and audience == CUSTOMER and contact is not None:
            j.f.sent.setdefault(contact.id, []).append((channel, self.now))
        message = OutgoingMessage(
            channel=channel,
            account_id=j.f.id,
            contact_id=contact.id if contact else None,
            playbook_key=j.pb.key,
            step_key=step_key or node.key,
            occurrence=j.e.occurrence,
            template=template,
            subject=subject,
            body=body,
            payload=jsonable(payload),
            due_at=due,
            enrolment_id=j.e.id,
            status=status,
            reason=reason,
        )
        self.messages.append(message)
        self.report.messages[status] += 1
        self._action(
            "message",
            j.f.id,
            j.pb.key,
            step=step_key or node.key,
            channel=channel,
            contact_id=message.contact_id,
            status=status,
            reason=reason,
            due_at=due.isoformat(),
            template=template,
            key=message.idempotency_key,
        )

    def _action(self, kind: str, account_id: int, playbook: str, **detail: Any) -> None:
        if self.record_actions:
            self.report.actions.append(
                {
                    "action": kind,
                    "account_id": account_id,
                    "playbook": playbook,
                    **jsonable(detail),
                }
            )

    # -- writes ----------------------------------------------------------------------------
    def _insert_new(self, batch: list[tuple[JourneyEnrolment, AccountFacts]]) -> None:
        """Insert new enrolments together and attach them to the session with their ids (the
        ORM inserts them one statement each on SQLite, to read every id back)."""
        if not batch:
            return
        table = JourneyEnrolment.__table__
        columns = [c.key for c in table.columns if c.key != "id"]
        key = (table.c.account_id, table.c.playbook_key, table.c.occurrence)  # unique
        ids = {}
        for start in range(0, len(batch), 1000):
            rows = [{c: getattr(e, c) for c in columns} for e, _f in batch[start : start + 1000]]
            for ident, *unique in self.session.connection().execute(
                insert(table).returning(table.c.id, *key), rows
            ):
                ids[tuple(unique)] = ident
        for e, _f in batch:
            e.id = ids[(e.account_id, e.playbook_key, e.occurrence)]
            make_transient_to_detached(e)  # every attribute is set: nothing to load
            self.session.add(e)

    def _write(self) -> None:
        self.session.flush()
        enqueue_many(self.session, self.messages, self.now, returning=False)
        if self.outcomes:
            self.session.connection().execute(insert(StepOutcome.__table__), self.outcomes)
        for account_id, values in self.account_changes.items():
            self.session.execute(
                update(Account)
                .where(Account.id == account_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        self.messages, self.outcomes, self.account_changes = [], [], {}


def evaluate(
    session: Session,
    now: datetime | None = None,
    chunk_size: int = 1000,
    account_ids: list[int] | None = None,
    ranges: list[tuple[int, int]] | None = None,
    dry_run: bool = False,
    record_actions: bool = False,
    playbooks: dict[str, LivePlaybook] | None = None,
    commit_each_chunk: bool = False,
) -> EvaluationReport:
    """Evaluate the live playbooks for the accounts (all, ``account_ids``, or ``ranges``)."""
    now = now or utcnow()
    playbooks = playbooks if playbooks is not None else loader.live(session)
    guards = loader.guard_settings(session)
    milestones = loader.milestone_config()
    total = EvaluationReport(now=now.isoformat())
    rollups = rollup_config(session, needs_of(playbooks, milestones), now)
    with fewer_collections():
        for lo, hi in ranges or account_ranges(session, chunk_size, account_ids):
            run = Run(session, playbooks, guards, milestones, now, dry_run, record_actions, rollups)
            total.merge(run.evaluate_range(lo, hi, account_ids))
            if commit_each_chunk:
                session.commit()
    return total
