"""Scoring throughput and memory; prints one JSON document.

Sections, each in its own process so each peak memory figure is its own:

- ``train``: the churn model trained on ``--train-accounts`` synthetic accounts (demo shape)
  x 12 weekly snapshots: features for every snapshot, model choice by inner CV,
  calibrated fit, evaluation beside the baseline and the health score. The model is kept for
  the other sections.
- ``memory``: features + health score (with explanations) + churn prediction (with reasons)
  for 10k, 100k and 1M synthetic accounts held in memory as the store's SQL delivers them
  (window buckets), in chunks of ``--chunk`` accounts like ``score_all``. Peak memory is the
  resident high-water mark while scoring (reset before each chunk; inputs included).
- ``naive``: the same functions called once per account, on ``--naive-sample`` accounts;
  the figure for the full sizes is extrapolated linearly and labelled so.
- ``store``: ``--store-accounts`` accounts in a real SQLite store (built once, kept in
  ``--work``; the default leaves about 100,000 live): plan + score every live account from
  the store back into the store, the way ``cshub score`` does (one process), and with the
  chunks split over two processes (two RQ workers on this two-core machine).

    .venv/bin/python bench/scoring.py [--sizes 10000,100000,1000000] [--store-accounts 133000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# this file is bench/scoring.py: keep bench/ off the path so ``scoring`` is the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hub.scoring_config import default_config  # noqa: E402
from scoring import frames, registry, synthetic, training  # noqa: E402
from scoring.churn import risk_segments  # noqa: E402
from scoring.config import ScoringConfig  # noqa: E402
from scoring.features import FeatureBuilder  # noqa: E402
from scoring.health import percentile_reference, score_health  # noqa: E402

AS_OF = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
D = frames.epoch_day(AS_OF)
SCORING_DAYS = 35  # the history a scoring run reads
TRAIN_SNAPSHOTS = 12


def _hwm_reset() -> None:
    """Reset this process's resident high-water mark (Linux; otherwise a no-op)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _hwm_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return _maxrss_mb()


def _maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _config(train_accounts: int = 200_000) -> ScoringConfig:
    cfg = default_config()
    doc = json.loads(json.dumps(cfg.document))
    every = doc["churn"]["snapshot_every_days"]
    doc["churn"]["history_days"] = doc["churn"]["horizon_days"] + every * (TRAIN_SNAPSHOTS - 1)
    doc["churn"]["max_training_accounts"] = max(train_accounts, 1)
    from scoring.config import parse_config

    return parse_config(doc)


# -- sections ---------------------------------------------------------------------------------
def section_train(args) -> dict[str, Any]:
    cfg = _config(args.train_accounts)
    history = cfg.churn.history_days + frames.LOOKBACK_DAYS
    days = training.snapshot_days(D, D - history, cfg)
    parts, features_s, generate_s = [], 0.0, 0.0
    for first in range(1, args.train_accounts + 1, 10_000):
        n = min(10_000, args.train_accounts - first + 1)
        t0 = time.perf_counter()
        tenant = synthetic.generate(n, D, days=history, seed=21, first_id=first)
        t1 = time.perf_counter()
        parts.append(training.dataset_rows(tenant.inputs, cfg, days))
        features_s += time.perf_counter() - t1
        generate_s += t1 - t0
        del tenant
    dataset = training.split(pd.concat(parts, ignore_index=True), days, cfg)
    del parts
    t0 = time.perf_counter()
    outcome = training.train_on(dataset, cfg)
    train_s = time.perf_counter() - t0
    Path(args.work, "model.skops").write_bytes(registry.dumps(outcome.model))
    report = outcome.report
    return {
        "accounts": args.train_accounts,
        "snapshots": len(days),
        "rows": len(dataset.frame),
        "training_rows": int(dataset.train.sum()),
        "validation_rows": int(dataset.valid.sum()),
        "training_positives": outcome.window["positives"],
        "chosen": outcome.model.info["chosen"],
        "calibration": outcome.model.info["calibration"],
        "seconds": {
            "features": round(features_s, 1),
            "fit": outcome.seconds["fit"],
            "evaluate": outcome.seconds["evaluate"],
            "total": round(features_s + train_s, 1),
            "synthetic_data_not_counted": round(generate_s, 1),
        },
        "validation": {
            "roc_auc": report["roc_auc"],
            "pr_auc": report["pr_auc"],
            "brier": report["brier"],
            "baseline_roc_auc": report["baseline"]["roc_auc"],
            "health_score_roc_auc": report["health_score"]["roc_auc"],
        },
        "peak_rss_mb": _maxrss_mb(),
    }


def _score_chunk(inputs, cfg: ScoringConfig, model, reference) -> tuple[dict[str, float], Any]:
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    features = FeatureBuilder(inputs, cfg.features).at(D)
    t1 = time.perf_counter()
    if reference is None:
        reference = percentile_reference(features, cfg.health)
    health = score_health(features, cfg.health, reference)
    records = health.records()
    t2 = time.perf_counter()
    p = model.predict_proba(features)
    risk_segments(p, cfg.churn.segments, cfg.churn.below_segments)
    model.reasons(features, p, min_probability=cfg.churn.reasons_min_probability)
    t3 = time.perf_counter()
    seconds = {"features": t1 - t0, "health": t2 - t1, "churn": t3 - t2}
    assert len(records) <= len(features)
    return seconds, reference


def section_memory(args) -> dict[str, Any]:
    cfg = _config()
    model = registry.loads(Path(args.work, "model.skops").read_bytes())
    size, chunk = args.size, min(args.size, args.chunk)
    totals = {"features": 0.0, "health": 0.0, "churn": 0.0}
    reference, peak = None, 0.0
    for first in range(1, size + 1, chunk):
        n = min(chunk, size - first + 1)
        tenant = synthetic.generate(n, D, days=SCORING_DAYS, seed=5, first_id=first)
        inputs = frames.bucketed(tenant.inputs, D)
        del tenant
        _hwm_reset()
        seconds, reference = _score_chunk(inputs, cfg, model, reference)
        peak = max(peak, _hwm_mb())
        for k, v in seconds.items():
            totals[k] += v
        del inputs
    total = sum(totals.values())
    return {
        "accounts": size,
        "chunk": chunk,
        "seconds": {k: round(v, 2) for k, v in totals.items()} | {"total": round(total, 2)},
        "accounts_per_second": round(size / total),
        "peak_rss_mb_while_scoring": peak,
    }


def section_naive(args) -> dict[str, Any]:
    """Per account: filter that account's rows out of the tenant's frames, then the same
    feature, health and churn functions on one account."""
    cfg = _config()
    model = registry.loads(Path(args.work, "model.skops").read_bytes())
    tenant = synthetic.generate(args.naive_tenant, D, days=SCORING_DAYS, seed=5)
    inputs = frames.bucketed(tenant.inputs, D)
    reference = percentile_reference(FeatureBuilder(inputs, cfg.features).at(D), cfg.health)
    ids = inputs.accounts["account_id"].to_numpy()[: args.naive_sample]
    t0 = time.perf_counter()
    for account_id in ids:
        one = inputs.restricted_to(np.array([account_id]))
        _score_chunk(one, cfg, model, reference)
    per_account = (time.perf_counter() - t0) / len(ids)
    return {
        "method": "same functions once per account (per-account row filtering)",
        "measured_accounts": len(ids),
        "tenant_accounts": args.naive_tenant,
        "seconds_per_account": round(per_account, 4),
        "accounts_per_second": round(1 / per_account, 1),
        "extrapolated_seconds": {
            str(n): round(per_account * n) for n in [int(s) for s in args.sizes.split(",")]
        },
        "note": "extrapolated linearly from the measured accounts, not run at full size",
    }


def _store_chunks(url: str, plan_doc: dict, chunks: list) -> list[dict]:
    from hub.db import make_engine
    from hub.scoring_service import RunPlan, score_chunk

    engine = make_engine(url)
    plan = RunPlan.from_dict(plan_doc)
    return [score_chunk(engine, plan, lo, hi) for lo, hi in chunks]


def _store_run(engine, url: str, workers: int, as_of: datetime) -> tuple[dict, dict]:
    from sqlalchemy import text

    from hub.scoring_service import merge_summaries, plan_run

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM health_scores"))
        conn.execute(text("DELETE FROM churn_predictions"))
    _hwm_reset()
    t0 = time.perf_counter()
    plan = plan_run(engine, as_of, workers=workers)
    t1 = time.perf_counter()
    if workers == 1:
        parts = _store_chunks(url, plan.to_dict(), plan.chunks)
    else:  # each chunk to the next free worker, as RQ workers take jobs off the queue
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(_store_chunks, url, plan.to_dict(), [c]) for c in plan.chunks]
            parts = [p for f in futures for p in f.result()]
    elapsed = time.perf_counter() - t0
    summary = merge_summaries(plan, parts)
    return {
        "seconds": round(elapsed, 1),
        "plan_seconds": round(t1 - t0, 1),
        "rollup": plan.rollup,
        "chunk_stage_seconds": summary["stage_seconds"],
        "accounts_per_second": round(summary["scored"] / elapsed),
        "peak_rss_mb_this_process": _hwm_mb(),
    }, summary


def section_store(args) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from hub import churn_registry, scoring_rollup
    from hub.db import Base, make_engine
    from hub.models import EventDaily, MetricDaily, RollupDay, RollupState

    build_store = _bench_module("scoring_store").build_store
    path = Path(args.work, f"store-{args.store_accounts}.db")
    setup = None
    if not path.exists():
        setup = build_store(path, args.store_accounts, D, days=SCORING_DAYS)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    # the roll-ups are rebuilt below anyway: made afresh, they have this code's definition
    rollups = [m.__table__ for m in (EventDaily, MetricDaily, RollupDay, RollupState)]
    Base.metadata.drop_all(engine, tables=rollups)
    Base.metadata.create_all(engine)  # tables newer than the stored file
    for table in Base.metadata.sorted_tables:  # and indexes newer than it
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    model = registry.loads(Path(args.work, "model.skops").read_bytes())
    cfg = _config()
    with engine.begin() as conn:
        for table in ("health_scores", "churn_predictions", "churn_models"):
            conn.execute(text(f"DELETE FROM {table}"))
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("accounts", "events", "metric_samples")
        }
    with Session(engine) as session, session.begin():
        row = churn_registry.register(
            session, model, {}, {}, "b" * 64, datetime.now(UTC).replace(microsecond=0)
        )
        churn_registry.activate(session, row)
    runs = {}
    # first run on this store: every day of the window is rolled up from the raw rows
    scoring_rollup.rebuild(engine, cfg.features, D, D)  # forget earlier roll-ups
    runs["first_run_1_worker"], _ = _store_run(engine, url, 1, AS_OF)
    # the daily steady state: yesterday's run rolled its window up; today adds one day
    scoring_rollup.rebuild(engine, cfg.features, D - 1 - frames.LOOKBACK_DAYS, D - 1)
    runs["daily_run_1_worker"], summary = _store_run(engine, url, 1, AS_OF)
    scoring_rollup.rebuild(engine, cfg.features, D - 1 - frames.LOOKBACK_DAYS, D - 1)
    runs["daily_run_2_workers"], summary = _store_run(engine, url, 2, AS_OF)
    return {
        "store": counts,
        "live_accounts_scored": summary["scored"],
        "predicted": summary["predicted"],
        "chunks": summary["chunks"],
        "runs": runs,
        "tiers": summary["tiers"],
        "risk_segments": summary["risk_segments"],
        "store_build": setup or "reused from an earlier run",
        "database_size_mb": round(path.stat().st_size / 2**20),
    }


def _bench_module(name: str):
    """A sibling module of this file (bench/ is kept off ``sys.path``, see the top)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SECTIONS = {
    "train": section_train,
    "memory": section_memory,
    "naive": section_naive,
    "store": section_store,
}


def _run(section: str, args, **extra) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--section", section, "--work", args.work]
    for key in ("sizes", "chunk", "store_accounts", "train_accounts", "naive_sample"):
        cmd += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-5:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--section", choices=sorted(SECTIONS))
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument(
        "--store-accounts",
        type=int,
        default=133_000,
        help="accounts in the store; a quarter have churned by the scoring day, so the "
        "default leaves about 100,000 live accounts to score",
    )
    parser.add_argument("--train-accounts", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=200)
    parser.add_argument("--naive-tenant", type=int, default=10_000)
    parser.add_argument(
        "--work", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "cshub-bench-scoring")
    )
    parser.add_argument("--skip", default="", help="sections to leave out, comma separated")
    args = parser.parse_args()
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.section:
        print(json.dumps(SECTIONS[args.section](args)))
        return
    skip = set(filter(None, args.skip.split(",")))
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "as_of": AS_OF.isoformat(),
    }
    if "train" not in skip or not Path(args.work, "model.skops").exists():
        doc["training"] = _run("train", args)
    if "memory" not in skip:
        doc["in_memory"] = [_run("memory", args, size=int(s)) for s in args.sizes.split(",") if s]
    if "naive" not in skip:
        doc["naive_loop"] = _run("naive", args)
    if "store" not in skip:
        doc["store_to_store"] = _run("store", args)
    doc["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    doc["bench_seconds"] = round(time.perf_counter() - started)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
