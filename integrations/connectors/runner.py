"""Run one configured connector: read, validate, map to accounts, store, record the outcome.

Everything a run stores (samples, events, the advanced cursor and running totals) is
written in one transaction after the read completes, so a failed or killed run stores
nothing and the next run starts from the same cursor. Samples and events are inserted with
``ON CONFLICT DO NOTHING`` on their unique keys: a repeated run never doubles them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub.models import Account, ConnectorConfig, Event, MetricSample
from integrations.connectors import registry
from integrations.connectors.base import Connector, Context, EventRecord, Sample
from integrations.connectors.validation import Validator
from integrations.errors import FatalError, IntegrationError

log = logging.getLogger(__name__)

MAX_RECORDS = 100_000


class ConnectorNotFound(LookupError):
    pass


@dataclass
class RunOutcome:
    connector_id: int
    type: str
    status: str = "healthy"
    stored: int = 0
    duplicates: int = 0
    events: int = 0
    rejected: int = 0
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None
    duration_s: float = 0.0
    finished_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stored_settings(row: ConnectorConfig) -> dict[str, Any]:
    return {**(row.settings or {}), **(row.secrets or {})}


def build(row: ConnectorConfig, *, now: datetime, ca_bundle: str = "") -> Connector:
    """The connector object for a configuration, settings validated by its type's spec."""
    info = registry.get(row.type)
    if info is None or info.cls is None:
        raise FatalError(f"unknown connector type {row.type!r}")
    if not info.enabled:
        raise FatalError(f"connector type {row.type} is disabled: {info.reason}")
    try:
        values = info.cls.spec().load(stored_settings(row))
    except ValidationError as exc:
        raise FatalError(f"invalid settings: {exc.messages}") from exc
    return info.cls(values, Context(now=now, ca_bundle=ca_bundle, state=dict(row.state or {})))


def _insert(dialect: str, model, index_elements: list[str]):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model).on_conflict_do_nothing(index_elements=index_elements).returning(model.id)


class _Accounts:
    """Account lookup by the configured field, for connectors shared by several accounts."""

    def __init__(self, session: Session, fixed: int | None, field_name: str) -> None:
        self.session, self.fixed, self.field_name = session, fixed, field_name
        self._map: dict[str, int] | None = None

    def resolve(self, key: str | None) -> int | None:
        if self.fixed is not None:
            return self.fixed
        if key is None:
            return None
        if self._map is None:
            column = getattr(Account, self.field_name)
            self._map = {
                str(value): account_id
                for account_id, value in self.session.execute(
                    select(Account.id, column).where(column.is_not(None))
                )
            }
        return self._map.get(str(key))


def run_connector(
    engine: Engine,
    connector_id: int,
    *,
    now: datetime | None = None,
    ca_bundle: str = "",
    max_records: int = MAX_RECORDS,
) -> RunOutcome:
    """Run connector ``connector_id`` once; classified failures mark it unhealthy."""
    now = now or datetime.now(UTC)
    started = time.monotonic()
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(ConnectorConfig, connector_id)
        if row is None:
            raise ConnectorNotFound(f"connector {connector_id} does not exist")
        outcome = RunOutcome(connector_id, row.type)
        validator = Validator(now)
        samples: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        connector: Connector | None = None
        try:
            connector = build(row, now=now, ca_bundle=ca_bundle)
            accounts = _Accounts(
                session, row.account_id, connector.settings.get("account_field", "id")
            )
            for record in connector.sync():
                account_id = accounts.resolve(record.account_key)
                if account_id is None:
                    validator.reject("unmapped_account")
                    continue
                if isinstance(record, Sample):
                    if validator.accept(record):
                        samples.append(
                            {
                                "account_id": account_id,
                                "connector_id": row.id,
                                "source": row.type,
                                "subject": record.subject[:128],
                                "metric": record.metric,
                                "value": float(record.value),
                                "measured_at": record.measured_at,
                            }
                        )
                elif isinstance(record, EventRecord):
                    events.append(
                        {
                            "account_id": account_id,
                            "name": record.name,
                            "occurred_at": record.occurred_at,
                            "properties": record.properties,
                            "source": row.type,
                            "source_event_id": f"c{row.id}:{record.key}"[:255],
                            "created_at": now,
                        }
                    )
                if len(samples) + len(events) > max_records:
                    raise FatalError(f"more than {max_records} records in one run")
        except IntegrationError as exc:
            outcome.status = "unhealthy"
            outcome.error_kind = type(exc).__name__
            outcome.error = str(exc)[:2000]
        except Exception as exc:
            session.rollback()
            _finish(session, row, now, outcome, validator, connector, started, exc)
            raise
        if outcome.status == "healthy":
            dialect = session.get_bind().dialect.name
            if samples:
                stmt = _insert(
                    dialect,
                    MetricSample,
                    ["account_id", "source", "metric", "measured_at", "subject"],
                )
                outcome.stored = len(session.execute(stmt, samples).all())
                outcome.duplicates = len(samples) - outcome.stored
            if events:
                stmt = _insert(dialect, Event, ["source", "source_event_id"])
                outcome.events = len(session.execute(stmt, events).all())
            row.state = dict(connector.state) if connector else row.state
        _finish(session, row, now, outcome, validator, connector, started, None)
    return outcome


def _finish(session, row, now, outcome, validator, connector, started, crash) -> None:
    reasons = dict(validator.rejected)
    for reason, count in (getattr(connector, "warnings", None) or {}).items():
        reasons[reason] = reasons.get(reason, 0) + count
    outcome.rejected = sum(validator.rejected.values())
    outcome.rejected_reasons = reasons
    outcome.duration_s = round(time.monotonic() - started, 3)
    outcome.finished_at = datetime.now(UTC).isoformat()
    if crash is not None:
        outcome.status = "unhealthy"
        outcome.error_kind = type(crash).__name__
        outcome.error = f"unexpected: {crash}"[:2000]
    row.last_run_at = now
    row.status = outcome.status
    row.last_error = outcome.error
    row.last_stats = outcome.as_dict()
    session.commit()
    log.info(
        "connector %s (%s) %s: %d stored, %d rejected %s",
        row.id,
        row.type,
        outcome.status,
        outcome.stored,
        outcome.rejected,
        outcome.error or "",
        extra={"connector_id": row.id},
    )


def mark_unhealthy(engine: Engine, connector_id: int, error: str) -> None:
    """Record a run that died outside the runner (a job timeout)."""
    with Session(engine) as session, session.begin():
        row = session.get(ConnectorConfig, connector_id)
        if row is not None:
            row.status, row.last_error = "unhealthy", error[:2000]
            row.last_run_at = datetime.now(UTC)
