"""Playbooks end to end: the demo tenant, a real RQ worker process (``cshub worker``), a real
SMTP server (aiosmtpd) on 127.0.0.1 and the fake Salesforce over HTTPS. Time moves forward by
passing ``as_of`` to the jobs. Shows the day 0-14 onboarding journey of each segment, an
intervention escalating to a Salesforce Task, and no duplicate e-mail after the worker is
killed (SIGKILL) in the middle of a dispatch."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from rq.job import Job
from sqlalchemy import select

from hub.db import db
from hub.models import Account, Contact, Event, JourneyEnrolment, OutboxMessage
from hub.playbooks.dispatch import LEASE, UNKNOWN_OUTCOME
from tests.conftest import free_port
from tests.fakes.salesforce import FakeSalesforce

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
DAY0 = date(2026, 3, 2)
JOURNEY_DAYS = (0, 1, 3, 5, 7, 14)  # the cron runs every 10 minutes; these days are enough


def moment(day: int, hour: int = 12) -> datetime:
    return datetime.combine(
        DAY0 + timedelta(days=day), datetime.min.time(), tzinfo=UTC
    ) + timedelta(hours=hour)


class Mailbox:
    """An aiosmtpd handler that records every message; ``hold`` blocks the n-th DATA."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.lock = threading.Lock()
        self.hold_at: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        with self.lock:
            self.count += 1
            number = self.count
        if number == self.hold_at:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.keys.append(msg["X-CSHub-Message"])
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    mailbox.release.set()
    controller.stop()


def _env(config, smtp_port: int, ca: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CSHUB_", "DATABASE_", "REDIS_"))
    }
    env.update(
        DATABASE_URL=config.database_url,
        REDIS_URL=config.redis_url,
        CSHUB_SECRET_KEY=config.secret_key,
        CSHUB_DATA_DIR=str(config.data_dir),
        CSHUB_LOG_LEVEL="WARNING",
        CSHUB_BASE_URL="http://hub.test",
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?from=cs@hub.example&timeout=60",
        REQUESTS_CA_BUNDLE=ca,
        PYTHONPATH=str(ROOT),
    )
    return env


def _start_worker(env: dict[str, str]) -> subprocess.Popen:
    log = Path(env["CSHUB_DATA_DIR"]) / "worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [str(BIN / "cshub"), "worker", "--without-scheduler"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )


def _kill(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (RQ's work horse runs in its own session)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _wait(job: Job, env, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status == "finished":
            return
        if status == "failed":
            raise AssertionError(f"job {job.func_name} failed: {job.latest_result()}")
        time.sleep(0.1)
    log = (Path(env["CSHUB_DATA_DIR"]) / "worker.log").read_text(errors="replace")[-3000:]
    raise AssertionError(f"job {job.func_name} did not finish: {log}")


def _run_day(app, env, day: int) -> None:
    """The cron's two jobs for one (simulated) day: evaluate in chunks, then dispatch."""
    from hub.queue import queues
    from jobs.base import enqueue
    from jobs.playbooks import dispatch_due, evaluate_all

    as_of = moment(day).isoformat()
    with app.app_context():
        _wait(enqueue(evaluate_all, as_of, 25), env)  # fans out chunk jobs of 25 accounts
        deadline = time.monotonic() + 120
        while queues["default"].count or queues["default"].started_job_registry.count:
            assert time.monotonic() < deadline, "evaluation chunks did not finish"
            time.sleep(0.1)
        _wait(enqueue(dispatch_due, as_of), env)


def _fresh_account(session, segment: str, sf_id: str, **extra) -> Account:
    account = Account(
        name=f"Fresh {segment}",
        segment=segment,
        signup_date=DAY0,
        status="active",
        lifecycle_stage="onboarding",
        salesforce_id=sf_id,
        owner_email="rep@hub.example",
        timezone="UTC",
        **extra,
    )
    session.add(account)
    session.flush()
    count = 2 if segment == "institution" else 1
    for i in range(count):
        session.add(
            Contact(
                account_id=account.id,
                email=f"c{i}.{segment}@fresh.example",
                name=f"Contact{i} {segment}",
                timezone="UTC",
                role="owner",
                unsubscribed=[],
            )
        )
    session.flush()
    return account


def _event(session, account, name, when, **props):
    session.add(
        Event(
            account_id=account.id,
            name=name,
            occurred_at=when,
            properties=props,
            source="product",
            source_event_id=f"{account.id}:{name}:{when.isoformat()}",
        )
    )


def test_demo_tenant_journeys_escalation_and_kill(app, config, smtp_server, client, admin_headers):
    """Day 0-14 per segment over the demo tenant, an intervention's Salesforce Task, and a
    worker SIGKILLed mid-dispatch never causing a duplicate e-mail."""
    from hub.demo import generate

    mailbox, smtp_port = smtp_server
    with FakeSalesforce() as fake:
        sf_ids = fake.seed_accounts(6)
        answer = client.put(
            "/api/integrations/salesforce", json=fake.settings(), headers=admin_headers
        )
        assert answer.status_code == 200, answer.json
        with app.app_context():
            with db.engine.begin() as conn:
                generate(conn, accounts=40, seed=11, days=40, as_of=DAY0)
            with db.begin() as session:
                fresh = {
                    seg: _fresh_account(session, seg, sf_ids[i]).id
                    for i, seg in enumerate(
                        ("individual_miner", "mining_farm", "crypto_trader", "institution")
                    )
                }
                farm = session.get(Account, fresh["mining_farm"])
                trader = session.get(Account, fresh["crypto_trader"])
                _event(session, farm, "hardware_connection_complete", moment(2, 9))
                _event(session, farm, "optimization_run", moment(6, 9))
                _event(session, trader, "portfolio_connected", moment(0, 13))
                # an established account whose product use stops three days before day 0
                quiet = Account(
                    name="Silent Hash Co",
                    segment="mining_farm",
                    status="active",
                    signup_date=DAY0 - timedelta(days=120),
                    lifecycle_stage="adoption",
                    salesforce_id=sf_ids[5],
                    owner_email="rep@hub.example",
                )
                session.add(quiet)
                session.flush()
                session.add(
                    Contact(
                        account_id=quiet.id,
                        email="ops@silent.example",
                        name="Ops",
                        timezone="UTC",
                        unsubscribed=[],
                    )
                )
                for d in range(-31, -3):
                    for h in (9, 12, 15):
                        _event(session, quiet, "session_start", moment(d, h))
                quiet_id = quiet.id
        env = _env(config, smtp_port, fake.ca_path)
        worker = _start_worker(env)
        try:
            for day in JOURNEY_DAYS:
                _run_day(app, env, day)
        finally:
            _kill(worker, signal.SIGTERM)

        with app.app_context():
            session = db.session
            journeys = {}
            for segment, account_id in fresh.items():
                rows = session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.account_id == account_id)
                    .order_by(OutboxMessage.id)
                ).all()
                journeys[segment] = [
                    ((r.created_at.date() - DAY0).days, r.step_key, r.channel, r.status)
                    for r in rows
                ]
            assert journeys["individual_miner"] == [
                (0, "day0_welcome", "email", "sent"),
                (0, "day0_checklist", "inapp", "sent"),
                (1, "day1_connect_hardware", "email", "sent"),
                (3, "day3_setup_help", "email", "sent"),
                (5, "day5_setup_call", "sf_task", "sent"),
                (7, "day7_week_one", "email", "sent"),
                (14, "day14_review", "email", "sent"),
            ]
            assert journeys["mining_farm"] == [
                (0, "day0_welcome", "email", "sent"),
                (0, "day0_kickoff_call", "sf_task", "sent"),
                (1, "day1_connect_fleet", "email", "sent"),
                (3, "day3_first_optimization", "email", "sent"),
                (7, "day7_week_one", "email", "sent"),
                (14, "day14_review", "email", "sent"),
                (14, "day14_results_review", "sf_task", "sent"),
            ]
            assert journeys["crypto_trader"] == [
                (0, "day0_welcome", "email", "sent"),
                (0, "day0_checklist", "inapp", "sent"),
                (3, "day3_first_backtest", "email", "sent"),
                (7, "day7_week_one", "email", "sent"),
                (14, "day14_review", "email", "sent"),
            ]
            assert journeys["institution"] == [
                (0, "day0_welcome", "email", "sent"),
                (0, "day0_welcome", "email", "sent"),
                (0, "day0_kickoff_call", "sf_task", "sent"),
                (0, "day0_kickoff_call.slack", "slack", "pending"),  # Slack not configured
                (1, "day1_connect_portfolio", "email", "sent"),
                (3, "day3_compliance_setup", "email", "sent"),
                (5, "day5_integration_call", "sf_task", "sent"),
                (7, "day7_week_one", "email", "sent"),
                (7, "day7_week_one", "email", "sent"),
                (14, "day14_review", "email", "sent"),
                (14, "day14_review", "email", "sent"),
                (14, "day14_executive_review", "sf_task", "sent"),
            ]
            outcomes = dict(
                session.execute(
                    select(JourneyEnrolment.account_id, JourneyEnrolment.outcome).where(
                        JourneyEnrolment.account_id.in_(fresh.values()),
                        JourneyEnrolment.playbook_key.like("onboarding_%"),
                    )
                ).all()
            )
            assert outcomes == {
                fresh["individual_miner"]: "escalated",
                fresh["mining_farm"]: "goal_met",
                fresh["crypto_trader"]: "not_met",
                fresh["institution"]: "escalated",
            }
            assert session.get(Account, fresh["mining_farm"]).lifecycle_stage == "adoption"

            # the intervention escalated to a Salesforce Task in the (fake) org
            steps = [
                (r.step_key, r.channel, r.status)
                for r in session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.account_id == quiet_id,
                        OutboxMessage.playbook_key == "intervention_usage_decline",
                    )
                    .order_by(OutboxMessage.id)
                )
            ]
            assert steps[:2] == [
                ("personalised_outreach", "email", "sent"),
                ("success_manager_call", "sf_task", "sent"),
            ]
            tasks = [t for t in fake.org.records["Task"].values() if t["WhatId"] == sf_ids[5]]
            call = [
                t for t in tasks if t["Subject"] == "Usage down at Silent Hash Co: call this week"
            ]
            assert len(call) == 1
            assert call[0]["Priority"] == "High" and call[0]["ActivityDate"]

            # every e-mail marked sent arrived exactly once
            sent_keys = set(
                session.scalars(
                    select(OutboxMessage.idempotency_key).where(
                        OutboxMessage.channel == "email", OutboxMessage.status == "sent"
                    )
                )
            )
            received = Counter(mailbox.keys)
            assert set(received) == sent_keys
            assert max(received.values()) == 1
            demo_sent = session.scalar(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.account_id.not_in([*fresh.values(), quiet_id]),
                    OutboxMessage.status == "sent",
                )
                .limit(1)
            )
            assert demo_sent is not None  # the demo tenant's own accounts got messages too

        # SIGKILL in the middle of a dispatch: no duplicate, the rest delivered after restart
        _kill_mid_dispatch(app, env, mailbox)


def _kill_mid_dispatch(app, env, mailbox: Mailbox) -> None:
    from hub.playbooks.outbox import OutgoingMessage, enqueue_many
    from jobs.base import enqueue
    from jobs.playbooks import dispatch_due

    as_of = moment(20) + timedelta(minutes=30)  # day-time in UTC, New York and Singapore
    with app.app_context():
        worker = _start_worker(env)
        try:  # first deliver whatever else is due, so only the test's messages remain
            _wait(enqueue(dispatch_due, as_of.isoformat()), env)
        finally:
            _kill(worker, signal.SIGTERM)
        with db.begin() as session:
            contacts = session.execute(
                select(Contact.id, Contact.account_id).where(Contact.email.is_not(None)).limit(12)
            ).all()
            enqueue_many(
                session,
                [
                    OutgoingMessage(
                        "email",
                        account_id,
                        contact_id,
                        "kill_test",
                        "mail",
                        1,
                        subject="Kill test",
                        body="Hello",
                    )
                    for contact_id, account_id in contacts
                ],
                now=as_of,
            )
        mailbox.count = 0
        mailbox.hold_at = 3  # the third message of this dispatch blocks inside the server
        mailbox.held.clear()
        mailbox.release.clear()
        worker = _start_worker(env)
        try:
            job = enqueue(dispatch_due, as_of.isoformat())
            assert mailbox.held.wait(60), "the dispatch never reached the third message"
            for pid in [*_children(worker.pid), worker.pid]:  # the work horse and the worker
                os.kill(pid, signal.SIGKILL)
            worker.wait(timeout=30)
        finally:
            mailbox.release.set()
            _kill(worker)
        with db.begin() as session:
            statuses = Counter(
                session.scalars(
                    select(OutboxMessage.status).where(OutboxMessage.playbook_key == "kill_test")
                )
            )
        # the held message (and any other in flight on the 4 sending threads) is 'sending'
        assert statuses["sending"] >= 1 and sum(statuses.values()) == 12, statuses
        in_flight = statuses["sending"]
        time.sleep(0.5)  # let the server finish (or drop) the held message
        received_at_kill = sum(k.startswith("kill_test:") for k in mailbox.keys)
        mailbox.hold_at = None
        worker = _start_worker(env)
        try:
            # a retried job at the same moment sends nothing: the rest is still reserved
            _wait(enqueue(dispatch_due, as_of.isoformat()), env)
            assert sum(k.startswith("kill_test:") for k in mailbox.keys) == received_at_kill
            # after the lease the reservation expires; the interrupted e-mails are not re-sent
            later = (as_of + LEASE + timedelta(minutes=1)).isoformat()
            _wait(enqueue(dispatch_due, later), env)
        finally:
            _kill(worker, signal.SIGTERM)
        with db.begin() as session:
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.playbook_key == "kill_test")
            ).all()
            keys = {r.idempotency_key for r in rows}
            unknown = [r for r in rows if r.status == "failed"]
            assert [r.last_error for r in unknown] == [UNKNOWN_OUTCOME] * in_flight
            assert sum(r.status == "sent" for r in rows) == len(rows) - in_flight
        received = Counter(k for k in mailbox.keys if k in keys)
        assert max(received.values()) == 1  # nothing twice
        sent = {r.idempotency_key for r in rows if r.status == "sent"}
        assert sent <= set(received)  # every message marked sent arrived
        assert len(rows) - in_flight <= len(received) <= len(rows)  # interrupted: 0 or 1 time
        assert job.get_status(refresh=True) != "finished"
