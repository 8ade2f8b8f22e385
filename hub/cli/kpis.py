"""KPIs from the command line: ``cshub kpis rollup [--day D] [--days N]``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import click

from hub.cli.common import cli, emit, json_option, make_app


@cli.group()
def kpis() -> None:
    """KPI roll-ups."""


@kpis.command("rollup")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="last day (default: today)")
@click.option(
    "--days",
    default=1,
    show_default=True,
    type=click.IntRange(1, 400),
    help="roll up this many days ending --day (backfill)",
)
@json_option
def kpis_rollup(day: datetime | None, days: int, as_json: bool) -> None:
    """Compute and store the KPI roll-up now (in this process, not on the queue)."""
    from hub.db import db
    from hub.metrics import rollup

    last: date = day.date() if day else datetime.now(UTC).date()
    app = make_app()
    done = []
    with app.app_context():
        for offset in range(days - 1, -1, -1):
            with db.begin() as session:
                done.append(rollup(session, last - timedelta(days=offset)))
    emit(
        {"rollups": done},
        as_json,
        "\n".join(f"{d['day']}: {len(d['segments'])} rows in {d['computed_ms']} ms" for d in done),
    )
