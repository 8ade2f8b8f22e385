"""A large SQLite store in the demo tenant's shape, written fast, for ``bench/scoring.py``.

``hub.demo`` inserts a realistic tenant row by row through SQLAlchemy, which is right for a
demo and takes hours for 100,000 accounts. This writes the same kind of tenant (from
``scoring.synthetic``, expanded back into one row per event and per metric sample) with
plain ``executemany`` and the secondary indexes built after the load.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert

from hub.db import Base, make_engine
from hub.models import Account
from scoring import frames, synthetic

CHUNK = 20_000
CREATED = "2026-01-01 00:00:00.000000"


def _timestamps(day: np.ndarray, minute: np.ndarray) -> list[str]:
    """'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite format) for epoch days + minutes."""
    key = day.astype("int64") * 1440 + minute.astype("int64")
    unique, inverse = np.unique(key, return_inverse=True)
    text = [
        (datetime(1970, 1, 1) + pd.Timedelta(minutes=int(k))).strftime("%Y-%m-%d %H:%M:%S.%f")
        for k in unique
    ]
    return np.asarray(text, dtype=object)[inverse].tolist()


def _date(day: float) -> str | None:
    return None if np.isnan(day) else frames.day_to_date(int(day)).isoformat()


def _accounts(tenant: synthetic.Tenant) -> list[dict]:
    acc = tenant.inputs.accounts
    rows = []
    for r in acc.itertuples(index=False):
        churned = not np.isnan(r.churn_day)
        attrs = (
            {"nominal_hashrate_ths": float(r.nominal_hashrate_ths)}
            if not np.isnan(r.nominal_hashrate_ths)
            else {"target_yield_pct": float(r.target_yield_pct)}
        )
        rows.append(
            {
                "id": int(r.account_id),
                "name": f"Bench {r.account_id}",
                "segment": r.segment,
                "plan": r.plan,
                "mrr": float(r.mrr),
                "signup_date": frames.day_to_date(int(r.signup_day)),
                "renewal_date": frames.day_to_date(int(r.renewal_day))
                if not np.isnan(r.renewal_day)
                else None,
                "churned_at": datetime.combine(
                    frames.day_to_date(int(r.churn_day)), datetime.min.time(), tzinfo=UTC
                )
                if churned
                else None,
                "status": "churned" if churned else "active",
                "lifecycle_stage": "churned" if churned else "adoption",
                "attributes": attrs,
                "cohorts": [],
            }
        )
    return rows


def _events(cur: sqlite3.Cursor, tenant: synthetic.Tenant, next_id: int) -> int:
    act = tenant.inputs.activity
    act = act[act["event"].astype(str) != frames.ACTIVE]
    count = act["count"].to_numpy(dtype="int64")
    rep = np.repeat(np.arange(len(act)), count)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)  # 0..count-1
    account = act["account_id"].to_numpy()[rep].tolist()
    day = act["day"].to_numpy()[rep]
    event = act["event"].astype(str).to_numpy()[rep].tolist()
    feature = act["feature"].astype(object).to_numpy()
    props_of = {f: json.dumps({"feature": f}) if f else "{}" for f in set(feature.tolist())}
    props = [props_of[f] for f in feature[rep].tolist()]
    ts = _timestamps(day, 8 * 60 + 23 * k)
    ids = range(next_id, next_id + len(rep))
    cur.executemany(
        "INSERT INTO events (id, account_id, name, occurred_at, properties, source,"
        " source_event_id, created_at) VALUES (?, ?, ?, ?, ?, 'bench', ?, ?)",
        zip(ids, account, event, ts, props, map(str, ids), [CREATED] * len(rep), strict=True),
    )
    return len(rep)


def _metrics(cur: sqlite3.Cursor, tenant: synthetic.Tenant) -> int:
    m = tenant.inputs.metrics
    ts = _timestamps(m["day"].to_numpy(), np.full(len(m), 23 * 60 + 59))
    cur.executemany(
        "INSERT INTO metric_samples (account_id, source, subject, metric, value, measured_at)"
        " VALUES (?, 'bench', '', ?, ?, ?)",
        zip(
            m["account_id"].tolist(),
            m["metric"].astype(str).tolist(),
            m["total"].tolist(),
            ts,
            strict=True,
        ),
    )
    return len(m)


def _others(cur: sqlite3.Cursor, tenant: synthetic.Tenant) -> None:
    sv = tenant.inputs.surveys
    cur.executemany(
        "INSERT INTO survey_responses (account_id, kind, score, comment, topics, extra,"
        " answered_at) VALUES (?, ?, ?, ?, '[]', '{}', ?)",
        zip(
            sv["account_id"].tolist(),
            sv["kind"].astype(str).tolist(),
            sv["score"].tolist(),
            sv["comment"].tolist(),
            _timestamps(sv["day"].to_numpy(), np.full(len(sv), 11 * 60)),
            strict=True,
        ),
    )
    sub = tenant.inputs.subscriptions
    cur.executemany(
        "INSERT INTO subscription_changes (account_id, occurred_at, kind, plan, mrr_before,"
        " mrr_after, source) VALUES (?, ?, ?, ?, ?, ?, 'bench')",
        zip(
            sub["account_id"].tolist(),
            _timestamps(sub["day"].to_numpy(), np.full(len(sub), 9 * 60)),
            sub["kind"].astype(str).tolist(),
            sub["plan"].tolist(),
            sub["mrr_before"].tolist(),
            sub["mrr_after"].tolist(),
            strict=True,
        ),
    )
    ms = tenant.inputs.milestones
    # milestones are events too (first time reached)
    start = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM events").fetchone()[0]
    ids = range(start, start + len(ms))
    cur.executemany(
        "INSERT INTO events (id, account_id, name, occurred_at, properties, source,"
        " source_event_id, created_at) VALUES (?, ?, ?, ?, '{}', 'bench', ?, ?)",
        zip(
            ids,
            ms["account_id"].tolist(),
            ms["event"].astype(str).tolist(),
            _timestamps(ms["day"].to_numpy(), np.full(len(ms), 10 * 60)),
            (f"m{i}" for i in ids),
            [CREATED] * len(ms),
            strict=True,
        ),
    )


def build_store(path: Path, accounts: int, as_of_day: int, days: int, seed: int = 11) -> dict:
    """Create ``path`` holding ``accounts`` accounts with ``days`` days of history."""
    started = time.perf_counter()
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    deferred = [
        (name, sql)
        for name, sql in con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
            " AND tbl_name IN ('events', 'metric_samples')"
        )
    ]
    for name, _ in deferred:
        con.execute(f'DROP INDEX "{name}"')
    counts = {"accounts": 0, "events": 0, "metric_samples": 0}
    engine = make_engine(url)
    for first in range(1, accounts + 1, CHUNK):
        n = min(CHUNK, accounts - first + 1)
        tenant = synthetic.generate(n, as_of_day, days=days, seed=seed, first_id=first)
        with engine.begin() as conn:
            conn.execute(insert(Account), _accounts(tenant))
        cur = con.cursor()
        next_id = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM events").fetchone()[0]
        counts["events"] += _events(cur, tenant, next_id)
        counts["metric_samples"] += _metrics(cur, tenant)
        _others(cur, tenant)
        con.commit()
        counts["accounts"] += n
    engine.dispose()
    for _, sql in deferred:
        con.execute(sql)
    con.execute("ANALYZE")
    con.commit()
    con.close()
    counts["seconds"] = round(time.perf_counter() - started, 1)
    counts["size_mb"] = round(path.stat().st_size / 2**20, 1)
    return counts
