"""``cshub demo``: seed a deterministic demo tenant."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import date

import click

from hub.cli.common import cli, emit, json_option, make_app


@cli.command()
@click.option("--accounts", default=300, show_default=True, type=click.IntRange(1, 2_000_000))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option(
    "--days", default=180, show_default=True, type=click.IntRange(1, 730), help="days of history"
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="the demo's 'today' (default: today)",
)
@click.option("--if-empty", is_flag=True, help="do nothing when accounts already exist")
@json_option
def demo(accounts: int, seed: int, days: int, as_of, if_empty: bool, as_json: bool) -> None:
    """Seed the demo tenant (into an empty database; run `cshub init` first)."""
    from sqlalchemy import select

    from hub.db import db
    from hub.demo import generate
    from hub.migrate import upgrade
    from hub.models import Account

    app = make_app()
    with app.app_context():
        upgrade(db.engine)
        with db.engine.connect() as conn:
            has_data = conn.execute(select(Account.id).limit(1)).first() is not None
        if has_data and if_empty:
            emit(
                {"skipped": True, "reason": "accounts exist"},
                as_json,
                "demo data already present; skipped",
            )
            return
        if has_data:
            raise click.ClickException("the database already holds accounts")
        started = time.perf_counter()
        with db.engine.begin() as conn:
            summary = generate(
                conn,
                accounts=accounts,
                seed=seed,
                days=days,
                as_of=as_of.date() if as_of else date.today(),
            )
    doc = asdict(summary) | {"seconds": round(time.perf_counter() - started, 2)}
    emit(
        doc,
        as_json,
        f"demo tenant: {summary.accounts} accounts, {summary.events} events, "
        f"{summary.metric_samples} metric samples, {summary.churned} churned",
    )
