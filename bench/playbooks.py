"""Benchmark the playbook engine and the e-mail dispatch; prints ONE JSON document.

1. Evaluate every shipped default playbook over ``--accounts`` accounts (default 100,000) in
   one process, chunk by chunk as the RQ fan-out does (accounts/s; aim: 100,000 in < 60 s).
   The tenant is the demo generator's (``hub.demo.generate``: ``--base`` accounts with
   ``--days`` of events and metric samples), replicated in SQL up to ``--accounts`` (new ids,
   Salesforce/Stripe ids and event ids), plus two health scores and two churn predictions per
   account so the score triggers have history, and the daily roll-ups of events and metrics
   the scoring job keeps (metric windows read them). SQLite file under ``--workdir``.
2. Dispatch ``--emails`` e-mails (default 10,000, rendered from the onboarding template with
   tracking links) through the outbox to a local aiosmtpd server in another process
   (messages/s); every message is counted by the server.

    python bench/playbooks.py [--accounts 100000] [--emails 10000] [--reuse]

``--reuse`` keeps the built tenant between runs (a pristine copy is restored each time).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

SMTP_SINK = r"""
import asyncio, sys
from aiosmtpd.controller import Controller
class Sink:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
print(Sink.count, flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replicate(conn, copies: int, accounts: int, base: int, base_contacts: int) -> None:
    """Copy the base tenant ``copies - 1`` times with shifted ids (SQLite SQL)."""
    for k in range(1, copies):
        off_a, off_c = k * base, k * base_contacts
        limit = min(base, accounts - off_a)
        if limit <= 0:
            break
        p = {"k": k, "oa": off_a, "oc": off_c, "lim": limit}
        conn.execute(
            text(
                "INSERT INTO accounts (id, salesforce_id, stripe_customer_id, mixpanel_group_key,"
                " name, domain, segment, plan, mrr, currency, signup_date, renewal_date,"
                " churned_at, owner_email, owner_salesforce_id, lifecycle_stage, status,"
                " stripe_subscription_id, timezone, attributes, cohorts, snoozed_until,"
                " deleted_at, created_at, updated_at)"
                " SELECT id + :oa, printf('001R%03d%011d', :k, id),"
                " 'cus_r' || :k || '_' || id, mixpanel_group_key, name || ' r' || :k, domain,"
                " segment, plan, mrr, currency, signup_date, renewal_date, churned_at,"
                " owner_email, owner_salesforce_id, lifecycle_stage, status,"
                " stripe_subscription_id, timezone, attributes, cohorts, snoozed_until,"
                " deleted_at, created_at, updated_at FROM accounts WHERE id <= :lim"
            ),
            p,
        )
        conn.execute(
            text(
                "INSERT INTO contacts (id, account_id, salesforce_id, mixpanel_distinct_id,"
                " email, name, phone, role, timezone, slack_user_id, unsubscribed, attributes,"
                " cohorts, deleted_at, created_at, updated_at)"
                " SELECT id + :oc, account_id + :oa, printf('003R%03d%011d', :k, id),"
                " 'u-' || (id + :oc), 'r' || :k || '.' || email, name, phone, role, timezone,"
                " slack_user_id, unsubscribed, attributes, cohorts, deleted_at, created_at,"
                " updated_at FROM contacts WHERE account_id <= :lim AND id <= :bc"
            ),
            {**p, "bc": base_contacts},
        )
        conn.execute(
            text(
                "INSERT INTO events (account_id, contact_id, name, occurred_at, properties,"
                " source, source_event_id, distinct_id, created_at)"
                " SELECT account_id + :oa, contact_id + :oc, name, occurred_at, properties,"
                " source, source_event_id || '-r' || :k, distinct_id, created_at"
                " FROM events WHERE account_id <= :lim"
            ),
            p,
        )
        conn.execute(
            text(
                "INSERT INTO metric_samples (account_id, connector_id, source, subject, metric,"
                " value, measured_at) SELECT account_id + :oa, connector_id, source, subject,"
                " metric, value, measured_at FROM metric_samples WHERE account_id <= :lim"
            ),
            p,
        )
        conn.execute(
            text(
                "INSERT INTO survey_responses (account_id, contact_id, kind, score, comment,"
                " sentiment, topics, priority, extra, answered_at)"
                " SELECT account_id + :oa, contact_id + :oc, kind, score, comment, sentiment,"
                " topics, priority, extra, answered_at FROM survey_responses"
                " WHERE account_id <= :lim"
            ),
            p,
        )


def add_scores(conn, accounts: int, seed: int) -> None:
    """Two health scores and two churn predictions per account (yesterday and today)."""
    from hub.models import ChurnPrediction, HealthScore

    rng = np.random.default_rng(seed)
    tiers = [(90, "champion"), (70, "healthy"), (50, "at_risk"), (0, "critical")]
    segments = [(0.7, "high"), (0.4, "medium"), (0.2, "low"), (0.0, "minimal")]
    for day in (1, 0):
        at = NOW - timedelta(days=day, hours=10)
        scores = rng.uniform(20, 100, accounts)
        probs = rng.beta(2, 5, accounts)
        health, churn = [], []
        for i in range(accounts):
            s, p = float(scores[i]), float(probs[i])
            tier = next(name for low, name in tiers if s >= low)
            seg = next(name for low, name in segments if p >= low)
            health.append(
                {
                    "account_id": i + 1,
                    "score": s,
                    "tier": tier,
                    "computed_at": at,
                    "components": {},
                    "contributions": {},
                    "drivers": {},
                    "missing": [],
                }
            )
            churn.append(
                {
                    "account_id": i + 1,
                    "probability": p,
                    "segment": seg,
                    "model_version": "bench",
                    "reasons": [],
                    "predicted_at": at,
                }
            )
        for start in range(0, accounts, 20_000):
            conn.execute(insert(HealthScore), health[start : start + 20_000])
            conn.execute(insert(ChurnPrediction), churn[start : start + 20_000])


def build(path: Path, accounts: int, base: int, days: int, seed: int) -> dict:
    import hub.models
    from hub import scoring_rollup
    from hub.db import Base, make_engine
    from hub.demo import generate
    from hub.scoring_config import default_config
    from scoring.frames import LOOKBACK_DAYS, epoch_day

    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("PRAGMA synchronous=OFF"))
        summary = generate(conn, accounts=min(base, accounts), seed=seed, days=days, as_of=AS_OF)
        base_contacts = conn.execute(select(func.max(hub.models.Contact.id))).scalar()
        copies = -(-accounts // base)
        generated = time.perf_counter()
        replicate(conn, copies, accounts, base, base_contacts)
        replicated = time.perf_counter()
        add_scores(conn, accounts, seed)
    scored = time.perf_counter()
    day = epoch_day(AS_OF)  # what the day's scoring run leaves behind
    scoring_rollup.ensure(engine, default_config().features, day - LOOKBACK_DAYS, day)
    print(
        f"built: demo {generated - started:.0f}s, replicate {replicated - generated:.0f}s, "
        f"scores {scored - replicated:.0f}s, roll-ups {time.perf_counter() - scored:.0f}s",
        file=sys.stderr,
    )
    with engine.connect() as conn:
        counts = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("accounts", "contacts", "events", "metric_samples")
        }
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return {
        "build_s": round(time.perf_counter() - started, 1),
        "base_fingerprint": summary.fingerprint,
        **counts,
    }


def _app(db_path: str, data_dir: str):
    from hub import create_app

    return create_app(
        {
            "database_url": f"sqlite:///{db_path}",
            "redis_url": "",
            "data_dir": data_dir,
            "secret_key": "bench-secret",
            "log_level": "WARNING",
            "base_url": "https://hub.bench.example",
        }
    )


def evaluate_ranges(db_path: str, data_dir: str, ranges: list, now_iso: str) -> dict:
    """One evaluation process (an RQ worker's share): its chunks, one transaction each."""
    from sqlalchemy.orm import Session

    from hub.db import db
    from hub.playbooks.engine import evaluate

    app = _app(db_path, data_dir)
    with app.app_context(), Session(db.engine, expire_on_commit=False) as session:
        report = evaluate(
            session, now=datetime.fromisoformat(now_iso), ranges=ranges, commit_each_chunk=True
        )
        session.commit()
    db.engine.dispose()
    return {
        "accounts": report.accounts,
        "enrolled": dict(report.enrolled),
        "milestones": report.milestones,
        "stage_moves": report.stage_moves,
    }


def evaluate_all(
    app, db_path: str, data_dir: str, chunk_size: int, processes: int, now: datetime
) -> dict:
    """Evaluate every account, fanned out over ``processes`` processes by chunk."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from hub.db import db
    from hub.models import JourneyEnrolment, OutboxMessage
    from hub.playbooks.queries import account_ranges

    with app.app_context(), db.begin() as session:
        ranges = account_ranges(session, chunk_size)
    shares = [ranges[i::processes] for i in range(processes)]
    started = time.perf_counter()
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        reports = list(
            pool.map(
                evaluate_ranges,
                [db_path] * processes,
                [data_dir] * processes,
                shares,
                [now.isoformat()] * processes,
            )
        )
    elapsed = time.perf_counter() - started
    accounts = sum(r["accounts"] for r in reports)
    enrolled: dict[str, int] = {}
    for r in reports:
        for key, n in r["enrolled"].items():
            enrolled[key] = enrolled.get(key, 0) + n
    with app.app_context(), db.begin() as session:
        enrolments = session.scalar(select(func.count(JourneyEnrolment.id)))
        messages = session.scalar(select(func.count(OutboxMessage.id)))
    return {
        "now": now.isoformat(),
        "processes": processes,
        "accounts": accounts,
        "chunk_size": chunk_size,
        "seconds": round(elapsed, 2),
        "accounts_per_s": round(accounts / elapsed, 1),
        "enrolments_total": enrolments,
        "messages_queued_total": messages,
        "milestones_detected": sum(r["milestones"] for r in reports),
        "stage_moves": sum(r["stage_moves"] for r in reports),
        "enrolled_this_run": dict(sorted(enrolled.items(), key=lambda kv: -kv[1])),
    }


def dispatch(app, emails: int, concurrency: int) -> dict:
    from hub.db import db
    from hub.models import Contact, OutboxMessage
    from hub.playbooks.dispatch import Dispatcher
    from hub.playbooks.guards import GuardSettings
    from hub.playbooks.outbox import OutgoingMessage, enqueue_many

    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SMTP_SINK, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout.readline().strip() == "ready"
    config = app.config["CSHUB"].with_overrides(
        {"smtp_url": f"smtp://127.0.0.1:{port}?from=cs@bench.example"}
    )
    with app.app_context():
        with db.begin() as session:
            session.execute(text("DELETE FROM outbox"))
            contacts = session.execute(
                select(Contact.id, Contact.account_id).order_by(Contact.id).limit(emails)
            ).all()
            enqueue_many(
                session,
                [
                    OutgoingMessage(
                        "email", a, c, "bench", "welcome", 1, template="onboarding_welcome"
                    )
                    for c, a in contacts
                ],
                now=NOW,
            )
        started = time.perf_counter()
        report = Dispatcher(
            db.engine, config, GuardSettings(quiet_hours=None), now=NOW, batch_size=200
        ).run()
        elapsed = time.perf_counter() - started
        with db.begin() as session:
            sent = session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "sent")
            )
    sink.stdin.close()
    received = int(sink.stdout.readline().strip())
    sink.wait(timeout=30)
    return {
        "emails": len(contacts),
        "sending_threads": concurrency,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(report.sent / elapsed, 1),
        "sent": sent,
        "received_by_smtp": received,
        "failed": report.failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=1_000)
    parser.add_argument("--processes", type=int, default=2, help="evaluation processes")
    parser.add_argument("--senders", type=int, default=4, help="dispatch sending threads")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default=str(ROOT / "var" / "bench"))
    parser.add_argument("--reuse", action="store_true", help="keep the built tenant")
    args = parser.parse_args()

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    pristine = workdir / f"playbooks-{args.accounts}-{args.base}-{args.days}-{args.seed}.db"
    doc: dict = {"benchmark": "playbooks", "machine_cores": __import__("os").cpu_count()}
    if not (args.reuse and pristine.exists()):
        building = pristine.with_suffix(".building")
        building.unlink(missing_ok=True)
        doc["tenant"] = build(building, args.accounts, args.base, args.days, args.seed)
        building.rename(pristine)
    else:
        doc["tenant"] = {"reused": str(pristine)}
    work = workdir / "playbooks-run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(pristine, work)

    with tempfile.TemporaryDirectory() as data_dir:
        app = _app(str(work), data_dir)
        doc["evaluate_first_run"] = evaluate_all(
            app, str(work), data_dir, args.chunk_size, args.processes, NOW
        )
        doc["evaluate_next_run"] = evaluate_all(  # the cron ten minutes later: steady state
            app, str(work), data_dir, args.chunk_size, args.processes, NOW + timedelta(minutes=10)
        )
        doc["dispatch"] = dispatch(app, args.emails, args.senders)
        from hub.db import db

        db.engine.dispose()
    if not args.reuse:
        pristine.unlink(missing_ok=True)
    work.unlink(missing_ok=True)
    doc["aim"] = {"evaluate_100k_under_s": 60}
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
