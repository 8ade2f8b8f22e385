"""Dashboard load time for a large tenant: the admin UI's ``/`` with the KPI roll-up present.

Builds a tenant with the demo generator (``--accounts``, default 100,000, with ``--days`` of
history, default 2, to keep generation time sane) in a fresh SQLite database (or
``--database-url``), adds a synthetic score and churn-prediction history (``--score-days``)
so the tier and risk distributions have something to count, runs the daily KPI roll-up for
``--rollup-days`` days (timed: that is the cost the roll-up keeps out of requests), signs in
an admin and requests the dashboard ``--requests`` times in-process (server time: routing,
queries, template rendering, no network). Also times ``GET /api/metrics`` (roll-up) and the
first accounts page, and one live KPI computation for comparison. Prints one JSON document.

    python bench/ui.py [--accounts 100000] [--days 2] [--requests 40]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password 0123456789"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "p50_ms": round(pick(0.5) * 1000, 1),
        "p95_ms": round(pick(0.95) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


def synthetic_scores(conn, score_days: int, now: datetime) -> int:
    """A score and a churn prediction per live account per day (bulk insert)."""
    from sqlalchemy import insert, select

    from hub.models import Account, ChurnPrediction, HealthScore

    ids = np.array(
        conn.execute(select(Account.id).where(Account.churned_at.is_(None))).scalars().all()
    )
    rng = np.random.default_rng(5)
    base = rng.uniform(20, 100, size=len(ids))
    bands = [(90, "champion"), (70, "healthy"), (50, "at_risk"), (0, "critical")]
    rows = 0
    for back in range(score_days - 1, -1, -1):
        at = now - timedelta(days=back, hours=1)
        scores = np.clip(base + rng.normal(0, 4, size=len(ids)), 0, 100)
        batch = []
        for account_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
            tier = next(name for lower, name in bands if score >= lower)
            batch.append(
                {
                    "account_id": account_id,
                    "score": score,
                    "tier": tier,
                    "components": {},
                    "contributions": {},
                    "drivers": {},
                    "missing": [],
                    "computed_at": at,
                }
            )
        conn.execute(insert(HealthScore), batch)
        rows += len(batch)
    probs = np.clip(1 - base / 100 + rng.normal(0, 0.05, size=len(ids)), 0, 1)
    conn.execute(
        insert(ChurnPrediction),
        [
            {
                "account_id": account_id,
                "probability": p,
                "segment": "high"
                if p >= 0.7
                else "medium"
                if p >= 0.4
                else "low"
                if p >= 0.2
                else "minimal",
                "model_version": "bench",
                "reasons": [],
                "predicted_at": now - timedelta(hours=1),
            }
            for account_id, p in zip(ids.tolist(), probs.tolist(), strict=True)
        ],
    )
    return rows


def timed(client, path: str, n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        resp = client.get(path)
        samples.append(time.perf_counter() - started)
        assert resp.status_code == 200, (path, resp.status_code)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--score-days", type=int, default=8)
    parser.add_argument("--rollup-days", type=int, default=3)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--skip-live", action="store_true", help="skip the live computation")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cshub-bench-ui-"))
    try:
        run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    from hub import create_app, metrics
    from hub.config import Config
    from hub.db import Base, db
    from hub.demo import generate
    from hub.users import create_user

    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    config = Config(data_dir=workdir, database_url=url, secret_key="bench-ui", log_level="ERROR")
    app = create_app(config)
    out: dict = {
        "accounts": args.accounts,
        "history_days": args.days,
        "database": url.split(":")[0],
    }
    now = datetime.now(UTC)
    today = now.date()
    with app.app_context():
        Base.metadata.create_all(db.engine)
        started = time.perf_counter()
        with db.engine.begin() as conn:
            summary = generate(conn, accounts=args.accounts, seed=3, days=args.days, as_of=today)
        out["generate_s"] = round(time.perf_counter() - started, 1)
        out["events"] = summary.events
        out["metric_samples"] = summary.metric_samples
        started = time.perf_counter()
        with db.engine.begin() as conn:
            out["score_rows"] = synthetic_scores(conn, args.score_days, now)
        out["scores_s"] = round(time.perf_counter() - started, 1)
        if db.engine.dialect.name == "sqlite":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        rollups = []
        for back in range(args.rollup_days - 1, -1, -1):
            started = time.perf_counter()
            with db.begin() as session:
                metrics.rollup(session, today - timedelta(days=back))
            rollups.append(time.perf_counter() - started)
        out["rollup_s_each"] = [round(s, 1) for s in rollups]
        with db.begin() as session:
            create_user(session, "bench@cshub.example", "admin", PASSWORD)

    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed = client.post(
        "/login", data={"email": "bench@cshub.example", "password": PASSWORD, "csrf_token": token}
    )
    assert signed.status_code == 302, signed.status_code
    client.get("/")  # warm caches (templates, statements)
    out["dashboard_rollup"] = timed(client, "/", args.requests)
    out["dashboard_segment_rollup"] = timed(client, "/?segment=mining_farm", args.requests // 2)
    with app.app_context():
        from hub.auth import create_token

        with db.begin() as session:
            _row, bearer = create_token(session, "bench", "admin")
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
    out["api_metrics_rollup"] = timed(api, "/api/metrics", args.requests // 2)
    out["accounts_first_page"] = timed(client, "/accounts", max(3, args.requests // 8))
    out["accounts_sorted_by_risk"] = timed(client, "/accounts?sort=-risk", 3)
    if not args.skip_live:
        with app.app_context(), db.begin() as session:
            started = time.perf_counter()
            metrics.compute(session, metrics.Period.ending(today, 30), segment=None)
            out["live_compute_all_segments_s"] = round(time.perf_counter() - started, 1)
    out["target_ms"] = 1000
    out["dashboard_under_target"] = out["dashboard_rollup"]["p95_ms"] < 1000
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
