"""One run of one configuration: validation, account mapping, storage, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hub.db import db
from hub.models import Account, ConnectorConfig, Event, MetricSample
from integrations.connectors import registry
from integrations.connectors.runner import ConnectorNotFound, run_connector
from tests.fakes.cgminer import FakeRig
from tests.fakes.pools import FakeJsonServer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def account(session):
    row = Account(name="Hash Farms", salesforce_id="001000000000001AAA")
    session.add(row)
    session.commit()
    return row


def add_connector(session, type_, settings, secrets=None, account_id=None) -> ConnectorConfig:
    row = ConnectorConfig(
        type=type_, name=f"{type_}-1", account_id=account_id, settings=settings, secrets=secrets
    )
    session.add(row)
    session.commit()
    return row


def rig_settings(rig, **extra):
    return {
        "host": "127.0.0.1",
        "port": rig.port,
        "rig_name": "s9",
        "allow_private_network": True,
        "timeout_s": 1.0,
        **extra,
    }


def test_rig_run_stores_samples_and_status(app, session, account):
    """A healthy run stores samples; reruns store nothing twice (cursor, then unique keys)."""
    with FakeRig() as rig:
        row = add_connector(session, "cgminer", rig_settings(rig), account_id=account.id)
        first = run_connector(db.engine, row.id, now=NOW)
        again = run_connector(db.engine, row.id, now=NOW)  # the cursor filters everything
        session.execute(
            ConnectorConfig.__table__.update().where(ConnectorConfig.id == row.id).values(state={})
        )
        session.commit()
        lost_cursor = run_connector(db.engine, row.id, now=NOW)  # the unique key catches it
    assert first.status == "healthy" and first.stored > 20 and first.rejected == 0
    assert (again.stored, again.duplicates) == (0, 0)
    assert (lost_cursor.stored, lost_cursor.duplicates) == (0, first.stored)
    session.expire_all()
    row = session.get(ConnectorConfig, row.id)
    assert row.status == "healthy" and row.last_error is None and row.last_run_at == NOW
    assert row.last_stats["duplicates"] == first.stored
    assert row.state["cursor"] == NOW.isoformat()
    hashrate = session.scalar(
        select(MetricSample).where(
            MetricSample.metric == "hashrate_ths", MetricSample.subject == "s9"
        )
    )
    assert hashrate.account_id == account.id and hashrate.connector_id == row.id
    assert hashrate.source == "cgminer" and hashrate.value == pytest.approx(13.51234)


def test_bad_values_are_rejected_and_counted(app, session, account):
    """A negative hashrate and a non-numeric average are counted by reason, never stored."""
    with FakeRig() as rig:
        rig.ghs_5s = "-5.0"
        rig.ghs_av = "N/A"
        row = add_connector(session, "cgminer", rig_settings(rig), account_id=account.id)
        outcome = run_connector(db.engine, row.id, now=NOW)
    assert outcome.status == "healthy"
    assert outcome.rejected_reasons == {"negative": 1, "non_numeric": 1}
    stored = set(session.scalars(select(MetricSample.metric)))
    assert "hashrate_ths" not in stored and "hashrate_avg_ths" not in stored
    assert "uptime_pct" in stored


def test_dead_rig_marks_connector_unhealthy(app, session, account):
    """A rig that never answers: unhealthy, the error recorded, nothing stored, cursor kept."""
    with FakeRig() as rig:
        rig.hang = True
        row = add_connector(
            session, "cgminer", rig_settings(rig, timeout_s=0.3), account_id=account.id
        )
        outcome = run_connector(db.engine, row.id, now=NOW)
    assert outcome.status == "unhealthy" and outcome.error_kind == "RetriableError"
    session.expire_all()
    row = session.get(ConnectorConfig, row.id)
    assert row.status == "unhealthy" and "no reply" in row.last_error and row.state == {}
    assert session.scalar(select(func.count(MetricSample.id))) == 0


def test_shared_feed_maps_records_to_accounts(app, session, account):
    """A connector for many accounts maps each record by the configured account field."""
    in_future = (NOW + timedelta(days=2)).timestamp()
    doc = {
        "rows": [
            {"acct": "001000000000001AAA", "t": NOW.timestamp() - 60, "h": 50},
            {"acct": "001000000000009ZZZ", "t": NOW.timestamp() - 60, "h": 70},
            {"acct": "001000000000001AAA", "t": in_future, "h": 55},
        ]
    }
    with FakeJsonServer({"/farms": lambda *a: (200, doc)}) as server:
        row = add_connector(
            session,
            "http_json",
            {
                "url": server.url,
                "path": "/farms",
                "allow_private_network": True,
                "account_field": "salesforce_id",
                "records": "$.rows[*]",
                "account": "acct",
                "time": "t",
                "metrics": [{"metric": "hashrate_ths", "path": "h"}],
            },
        )
        outcome = run_connector(db.engine, row.id, now=NOW)
    assert outcome.stored == 1
    assert outcome.rejected_reasons == {"unmapped_account": 1, "future_time": 1}
    sample = session.scalars(select(MetricSample)).one()
    assert sample.account_id == account.id and sample.value == 50


def test_events_are_stored_once_per_connector(app, session, account):
    """Connector events get a per-connector key and are not doubled by reruns."""
    with FakeRig("cgminer") as rig:
        rig.dead_board = 2
        row = add_connector(session, "cgminer", rig_settings(rig), account_id=account.id)
        run_connector(db.engine, row.id, now=NOW)
        run_connector(db.engine, row.id, now=NOW + timedelta(minutes=5))
    events = session.scalars(select(Event)).all()
    assert [e.name for e in events] == ["rig_board_down"]
    assert events[0].source == "cgminer" and events[0].source_event_id.startswith(f"c{row.id}:")


def test_invalid_settings_and_disabled_type(app, session, monkeypatch):
    """Stored settings that no longer validate, or a type that cannot load, mark it unhealthy."""
    broken = add_connector(session, "cgminer", {"port": 4028})
    outcome = run_connector(db.engine, broken.id, now=NOW)
    assert outcome.status == "unhealthy" and "host" in outcome.error
    monkeypatch.setitem(registry.TYPE_MODULES, "ghost", "integrations.connectors.ghost:Ghost")
    ghost = add_connector(session, "ghost", {})
    outcome = run_connector(db.engine, ghost.id, now=NOW)
    assert outcome.status == "unhealthy" and "ghost" in outcome.error
    with pytest.raises(ConnectorNotFound):
        run_connector(db.engine, 999_999)
