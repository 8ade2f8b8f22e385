"""Salesforce write-back and pull economy against the HTTPS fake; prints one JSON document.

For 1,000, 10,000 and 100,000 accounts: the pull (pages of 2,000, API calls, wall time, peak
Python heap), then the score push when every account changed, when 1% changed and when none
changed (API calls counted by the fake, wall time), next to the naive approach of one PATCH
per account per run. Push runs are an hour apart (the hourly cron), so a push compares only
the accounts with new scores since the last run. The naive approach runs for the sizes in
``--naive`` (past ``--naive-sample`` accounts on a sample, the wall time extrapolated and
labelled) and is labelled "not run" for the others. The fake runs in its own process, so its
memory is not in the figures.

    .venv/bin/python bench/salesforce_sync.py [--sizes 1000,10000,100000] [--naive 1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from hub.config import Config  # noqa: E402
from hub.db import Base, make_engine  # noqa: E402
from hub.models import Account, ChurnPrediction, HealthScore  # noqa: E402
from integrations.salesforce.client import SalesforceClient  # noqa: E402
from integrations.salesforce.pull import pull  # noqa: E402
from integrations.salesforce.push import collect, push  # noqa: E402
from integrations.salesforce.settings import resolve  # noqa: E402

SEGMENTS = ((0.7, "high"), (0.4, "medium"), (0.0, "low"))
BULK_ROWS_PER_S = 50_000.0  # the fake's Bulk API throughput, and the client's estimate of it


class Fake:
    """The fake Salesforce in a child process, driven through ``/__fake__``."""

    def __init__(self, accounts: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.salesforce",
                "--accounts",
                str(accounts),
                "--score-fields",
                "--api-limit",
                "100000000",
                "--bulk-rows-per-s",
                str(BULK_ROWS_PER_S),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info = json.loads(self.proc.stdout.readline())
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = self.info["ca"]

    def stats(self) -> dict[str, Any]:
        return self.http.get(f"{self.info['url']}/__fake__/stats").json()

    def calls(self) -> int:
        return self.stats()["calls"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def settings_for(fake: Fake):
    values = {
        "auth_flow": "client_credentials",
        "login_url": fake.info["url"],
        "client_id": fake.info["client_id"],
        "client_secret": fake.info["client_secret"],
        "bulk_rows_per_s": BULK_ROWS_PER_S,
        "bulk_poll_s": 0.2,
        "page_size": 2000,
    }
    return resolve(values, Config(requests_ca_bundle=fake.info["ca"]))


def transaction_factory(engine):
    @contextmanager
    def transaction() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session

    return transaction


def add_scores(engine, account_ids: list[int], at: datetime, seed: int) -> None:
    rng = random.Random(seed)
    tiers = ((90, "champion"), (70, "healthy"), (50, "at_risk"), (0, "critical"))
    health, churn = [], []
    for account_id in account_ids:
        score = round(rng.uniform(20, 98), 1)
        health.append(
            {
                "account_id": account_id,
                "score": score,
                "tier": next(t for floor, t in tiers if score >= floor),
                "components": {},
                "contributions": {},
                "drivers": {"down": rng.sample(["fewer logins", "hashrate down", "tickets"], 2)},
                "missing": [],
                "trend_7d": round(rng.uniform(-8, 8), 1),
                "computed_at": at,
            }
        )
        probability = round(rng.random(), 4)
        churn.append(
            {
                "account_id": account_id,
                "probability": probability,
                "segment": next(s for floor, s in SEGMENTS if probability >= floor),
                "model_version": "bench",
                "reasons": ["usage down"],
                "predicted_at": at,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(health), 5000):
            conn.execute(insert(HealthScore), health[start : start + 5000])
            conn.execute(insert(ChurnPrediction), churn[start : start + 5000])


def timed_push(
    fake: Fake, client: SalesforceClient, transaction, settings, at: datetime
) -> dict[str, Any]:
    before = fake.calls()
    started = time.perf_counter()
    report = push(client, transaction, settings, now=at)
    wall = time.perf_counter() - started
    return {
        "compared": report["compared"],
        "changed_accounts": report["changed_accounts"],
        "method": report["method"],
        "accepted": report.get("accepted", 0),
        "rejected": report.get("rejected", 0),
        "api_calls": fake.calls() - before,
        "wall_s": round(wall, 2),
    }


def naive(
    fake: Fake, client: SalesforceClient, transaction, settings, sample: int
) -> dict[str, Any]:
    """One PATCH /sobjects/Account/<id> per account, every run (no change tracking).

    Past ``sample`` accounts only the first ``sample`` are sent and the wall time for all of
    them is extrapolated (labelled); the call count is one per account by construction.
    """
    with transaction() as session:
        changes = list(collect(session, settings, ignore_ledger=True))
    sent = changes[:sample]
    before = fake.calls()
    started = time.perf_counter()
    for change in sent:
        client.update("Account", change.salesforce_id, change.fields)
    wall = time.perf_counter() - started
    calls = fake.calls() - before
    out: dict[str, Any] = {
        "run": True,
        "note": "no change tracking: the same calls whether all, 1% or none changed",
    }
    if len(sent) == len(changes):
        out.update(api_calls=calls, wall_s=round(wall, 2))
    else:
        out.update(
            api_calls=len(changes),
            measured_sample={"accounts": len(sent), "api_calls": calls, "wall_s": round(wall, 2)},
            wall_s_extrapolated=round(wall * len(changes) / len(sent), 1),
        )
    return out


def bench_size(size: int, run_naive: bool, sample: int, workdir: Path) -> dict[str, Any]:
    db_path = workdir / f"bench-{size}.db"
    engine = make_engine(f"sqlite:///{db_path}")
    Base.metadata.create_all(engine)
    transaction = transaction_factory(engine)
    fake = Fake(size)
    out: dict[str, Any] = {}
    try:
        settings = settings_for(fake)
        with SalesforceClient(settings) as client:
            before = fake.calls()
            tracemalloc.start()
            started = time.perf_counter()
            report = pull(client, transaction, settings, sobjects=("Account",))
            wall = time.perf_counter() - started
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            stream = report["streams"]["Account"]
            out["pull"] = {
                "records": stream["records"],
                "pages": stream["pages"],
                "api_calls": fake.calls() - before,
                "wall_s_under_tracemalloc": round(wall, 2),
                "peak_python_heap_mib": round(peak / 2**20, 1),
            }
            with transaction() as session:
                ids = list(session.scalars(select(Account.id).order_by(Account.id)))
            # hourly push runs, the first an hour after the pull
            now = datetime.now(UTC)
            hour = timedelta(hours=1)
            add_scores(engine, ids, now, seed=size)
            out["push_all_changed"] = timed_push(fake, client, transaction, settings, now + hour)
            out["push_none_changed"] = timed_push(
                fake, client, transaction, settings, now + 2 * hour
            )
            changed = random.Random(7).sample(ids, max(1, size // 100))
            add_scores(engine, changed, now + hour, seed=size + 1)
            out["push_1pct_changed"] = timed_push(
                fake, client, transaction, settings, now + 3 * hour
            )
            out["push_1pct_changed"]["changed_share"] = round(len(changed) / size, 4)
            if run_naive:
                out["naive_patch_per_record"] = naive(fake, client, transaction, settings, sample)
            else:
                out["naive_patch_per_record"] = {
                    "run": False,
                    "api_calls": size,
                    "note": "not run (too slow here); one PATCH per account by construction",
                }
    finally:
        fake.close()
        engine.dispose()
        db_path.unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--naive", default="1000,10000")
    parser.add_argument("--naive-sample", type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    naive_sizes = {int(s) for s in args.naive.split(",") if s}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cshub-sf-bench-") as workdir:
        for size in sizes:
            results[str(size)] = bench_size(
                size, size in naive_sizes, args.naive_sample, Path(workdir)
            )
    doc: dict[str, Any] = {
        "benchmark": "salesforce_sync",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "settings": {
            "page_size": 2000,
            "collections_per_call": 200,
            "bulk_threshold": 1000,
            "fake_bulk_rows_per_s": BULK_ROWS_PER_S,
            "api_calls_counted_by": "the fake (every /services/data request)",
        },
        "sizes": results,
    }
    big = results.get("100000")
    if big:
        doc["aims"] = {
            "100k_all_changed_at_most_10_calls": big["push_all_changed"]["api_calls"] <= 10,
            "1pct_of_100k_at_most_6_calls": big["push_1pct_changed"]["api_calls"] <= 6,
            "none_changed_zero_calls": all(
                r["push_none_changed"]["api_calls"] == 0 for r in results.values()
            ),
            "pull_100k_in_pages_of_2000": big["pull"]["pages"] == 50,
        }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
