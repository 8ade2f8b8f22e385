"""Write health and churn scores back onto Salesforce Accounts, sending only what changed.

For every account with a Salesforce id, the latest HealthScore and ChurnPrediction give the
values of Health_Score__c, Health_Tier__c, Health_Trend__c, Churn_Risk__c,
Churn_Risk_Segment__c, Health_Reasons__c and Last_Scored__c (plus any hub field the field map
pushes). A field is sent only when the hash of its value differs from the push ledger's; an
account with no changed field costs nothing, so a run where nothing changed makes no API call
at all (it does not even log in). Last_Scored__c rides along with a change, never alone.

Up to ``bulk_threshold`` changed accounts go through sObject Collections (200 per PATCH,
``allOrNone`` false); more go through one Bulk API 2.0 update job. Rows refused with
UNABLE_TO_LOCK_ROW (or another transient code) are retried with backoff; the rest of the
refusals are recorded in the ledger with Salesforce's error code and sent again next run.
One bad row never blocks the others.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.models import Account, ChurnPrediction, HealthScore
from integrations.salesforce import candidates, ledger
from integrations.salesforce.client import COLLECTION_LIMIT, SalesforceClient
from integrations.salesforce.mapping import HEALTH_FIELDS, SENT_WITH_CHANGE, push_value, pushed
from integrations.salesforce.settings import SalesforceSettings

Transaction = Callable[[], AbstractContextManager[Session]]
RETRIABLE_RECORD_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "REQUEST_RUNNING_TOO_LONG"}
)
READ_CHUNK = 2000
REASONS_LIMIT = 255


@dataclass
class Change:
    """One account's changed fields (Salesforce names) and the ledger hashes they settle."""

    account_id: int
    salesforce_id: str
    fields: dict[str, Any]
    hashes: list[tuple[str, str]]  # (hub field, value hash)


@dataclass
class Outcome:
    accepted: list[Change] = field(default_factory=list)
    rejected: list[tuple[Change, str, str]] = field(default_factory=list)  # change, code, msg
    record_retries: int = 0


def trend_word(delta: float | None, threshold: float) -> str | None:
    """improving / stable / declining from a score change."""
    if delta is None:
        return None
    if delta >= threshold:
        return "improving"
    if delta <= -threshold:
        return "declining"
    return "stable"


def _words(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("text", "label", "reason", "name", "factor"):
            if item.get(key):
                return str(item[key])
        return ""
    return str(item or "")


def reasons_text(drivers: dict[str, Any] | None, churn_reasons: Sequence[Any] | None) -> str | None:
    """The top drivers in words: what pulls the score down, then the churn model's reasons."""
    parts: list[str] = []
    for item in [*((drivers or {}).get("down") or [])[:3], *(churn_reasons or [])[:3]]:
        text = _words(item).strip()
        if text and text not in parts:
            parts.append(text)
    if not parts:
        return None
    text = "; ".join(parts)
    return text if len(text) <= REASONS_LIMIT else text[: REASONS_LIMIT - 1] + "…"


def score_values(health: Any | None, churn: Any | None, trend_threshold: float) -> dict[str, Any]:
    """The health-field values (hub names) for one account's latest score rows."""
    out: dict[str, Any] = {}
    if health is not None:
        out["health_score"] = round(float(health.score), 1)
        out["health_tier"] = health.tier
        delta = health.trend_7d if health.trend_7d is not None else health.trend_30d
        out["health_trend"] = trend_word(delta, trend_threshold)
    if churn is not None:
        out["churn_risk"] = round(float(churn.probability) * 100, 1)
        out["churn_risk_segment"] = churn.segment
    if health is not None or churn is not None:
        out["health_reasons"] = reasons_text(
            health.drivers if health is not None else None,
            churn.reasons if churn is not None else None,
        )
        stamps = [
            s
            for s in (
                health.computed_at if health is not None else None,
                churn.predicted_at if churn is not None else None,
            )
            if s
        ]
        out["last_scored"] = push_value("last_scored", max(stamps)) if stamps else None
    return out


def _latest(session: Session, model: Any, stamp: Any, ids: list[int], columns: list[Any]):
    newest = (
        select(model.account_id, func.max(stamp).label("at"))
        .where(model.account_id.in_(ids))
        .group_by(model.account_id)
        .subquery()
    )
    rows = session.execute(
        select(model.account_id, *columns)
        .join(newest, and_(model.account_id == newest.c.account_id, stamp == newest.c.at))
        .order_by(model.id)
    )
    return {row.account_id: row for row in rows}


def _account_batches(
    session: Session, columns: list[Any], account_ids: Sequence[int] | None
) -> Iterator[list[Any]]:
    """Accounts with a Salesforce id, ``READ_CHUNK`` at a time (all, or only ``account_ids``)."""
    live = (Account.salesforce_id.is_not(None), Account.deleted_at.is_(None))
    base = select(Account.id, Account.salesforce_id, *columns).where(*live).order_by(Account.id)
    if account_ids is not None:
        for start in range(0, len(account_ids), READ_CHUNK):
            chunk = account_ids[start : start + READ_CHUNK]
            rows = session.execute(base.where(Account.id.in_(chunk))).all()
            if rows:
                yield rows
        return
    last_id = 0
    while True:
        rows = session.execute(base.where(Account.id > last_id).limit(READ_CHUNK)).all()
        if not rows:
            return
        last_id = rows[-1].id
        yield rows


def collect(
    session: Session,
    settings: SalesforceSettings,
    *,
    ignore_ledger: bool = False,
    account_ids: Sequence[int] | None = None,
) -> Iterator[Change]:
    """The changes to send, account by account (in chunks of accounts, low memory)."""
    mappings = pushed(settings.mappings)
    account_cols = sorted({m.hub for m in mappings if m.hub not in HEALTH_FIELDS})
    columns = [getattr(Account, c) for c in account_cols]
    for accounts in _account_batches(session, columns, account_ids):
        ids = [a.id for a in accounts]
        health = _latest(
            session,
            HealthScore,
            HealthScore.computed_at,
            ids,
            [
                HealthScore.score,
                HealthScore.tier,
                HealthScore.trend_7d,
                HealthScore.trend_30d,
                HealthScore.drivers,
                HealthScore.computed_at,
            ],
        )
        churn = _latest(
            session,
            ChurnPrediction,
            ChurnPrediction.predicted_at,
            ids,
            [
                ChurnPrediction.probability,
                ChurnPrediction.segment,
                ChurnPrediction.reasons,
                ChurnPrediction.predicted_at,
            ],
        )
        known = {} if ignore_ledger else ledger.load(session, ids)
        for account in accounts:
            values = score_values(
                health.get(account.id), churn.get(account.id), settings.trend_threshold
            )
            for col in account_cols:
                values[col] = push_value(col, getattr(account, col))
            changed: dict[str, Any] = {}
            hashes: list[tuple[str, str]] = []
            for m in mappings:
                if m.hub not in values or m.hub in SENT_WITH_CHANGE:
                    continue
                digest = ledger.value_hash(values[m.hub])
                if known.get((account.id, m.hub)) != digest:
                    changed[m.salesforce] = values[m.hub]
                    hashes.append((m.hub, digest))
            if not changed:
                continue
            for m in mappings:
                if m.hub in SENT_WITH_CHANGE and m.hub in values:
                    changed[m.salesforce] = values[m.hub]
                    hashes.append((m.hub, ledger.value_hash(values[m.hub])))
            yield Change(account.id, account.salesforce_id, changed, hashes)


def _record(change: Change) -> dict[str, Any]:
    return {"attributes": {"type": "Account"}, "id": change.salesforce_id, **change.fields}


def _first_error(result: dict[str, Any]) -> tuple[str, str]:
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    return str(first.get("statusCode") or "UNKNOWN"), str(first.get("message") or "")


def send_collections(client: SalesforceClient, changes: Sequence[Change], retries: int) -> Outcome:
    """PATCH /composite/sobjects, 200 records a call; transient per-row refusals retried."""
    outcome = Outcome()
    pending = list(changes)
    for attempt in range(retries + 1):
        again: list[Change] = []
        for start in range(0, len(pending), COLLECTION_LIMIT):
            batch = pending[start : start + COLLECTION_LIMIT]
            results = client.save_collection("PATCH", [_record(c) for c in batch])
            for i, change in enumerate(batch):
                result = results[i] if i < len(results) else {"success": False}
                if result.get("success"):
                    outcome.accepted.append(change)
                    continue
                code, message = _first_error(result)
                if code in RETRIABLE_RECORD_CODES and attempt < retries:
                    again.append(change)
                else:
                    outcome.rejected.append((change, code, message))
        if not again:
            break
        outcome.record_retries += len(again)
        client.pause(attempt)
        pending = again
    return outcome


def _csv_value(value: Any) -> str:
    if value is None:
        return "#N/A"  # Bulk API: blank leaves a field alone, #N/A clears it
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(changes: Sequence[Change], path: Path) -> list[str]:
    """The Bulk API 2.0 CSV: Id plus every changed column (blank = leave as is)."""
    columns = sorted({name for c in changes for name in c.fields})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["Id", *columns])
        for c in changes:
            writer.writerow(
                [
                    c.salesforce_id,
                    *(_csv_value(c.fields[k]) if k in c.fields else "" for k in columns),
                ]
            )
    return columns


def send_bulk(client: SalesforceClient, changes: Sequence[Change], retries: int) -> Outcome:
    """One Bulk API 2.0 update job; transiently refused rows go again through Collections."""
    fd, name = tempfile.mkstemp(prefix="cshub-sf-", suffix=".csv")
    os.close(fd)
    path = Path(name)
    try:
        write_csv(changes, path)
        result = client.bulk_update("Account", path, len(changes))
    finally:
        path.unlink(missing_ok=True)
    failed: dict[str, tuple[str, str]] = {}
    for row in result.failed:
        code, _, message = (row.get("sf__Error") or "UNKNOWN").partition(":")
        failed[row.get("sf__Id") or row.get("Id") or ""] = (code.strip() or "UNKNOWN", message)
    outcome = Outcome()
    again: list[Change] = []
    for change in changes:
        if change.salesforce_id in failed:
            code, message = failed[change.salesforce_id]
            if code in RETRIABLE_RECORD_CODES and retries > 0:
                again.append(change)
            else:
                outcome.rejected.append((change, code, message))
        elif result.complete or change.salesforce_id in (result.successful_ids or ()):
            outcome.accepted.append(change)
        else:
            outcome.rejected.append((change, "NOT_PROCESSED", "the bulk job did not process it"))
    if again:
        client.pause(0)
        retried = send_collections(client, again, retries - 1)
        outcome.accepted += retried.accepted
        outcome.rejected += retried.rejected
        outcome.record_retries += len(again) + retried.record_retries
    return outcome


def record_outcome(session: Session, outcome: Outcome, now: datetime) -> None:
    ledger.record_accepted(
        session,
        ((c.account_id, hub, digest) for c in outcome.accepted for hub, digest in c.hashes),
        now,
    )
    ledger.record_rejected(
        session,
        (
            (c.account_id, hub, f"{code}: {message}".strip())
            for c, code, message in outcome.rejected
            for hub, _digest in c.hashes
        ),
        now,
    )


def push(
    client: SalesforceClient,
    transaction: Transaction,
    settings: SalesforceSettings,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Send the changed score fields; a report of what went and what Salesforce refused."""
    calls_before = client.stats.api_calls
    started = now or utcnow()
    with transaction() as session:
        mark = candidates.current(session, pushed(settings.mappings), started)
        account_ids, scope = candidates.candidates(session, mark)
        changes = list(collect(session, settings, account_ids=account_ids))
    report: dict[str, Any] = {"changed_accounts": len(changes), "method": "none"}
    report["compared"] = scope if account_ids is None else f"{len(account_ids)} {scope}"
    if changes:
        if len(changes) > settings.bulk_threshold:
            report["method"] = "bulk"
            outcome = send_bulk(client, changes, settings.record_retries)
        else:
            report["method"] = "collections"
            outcome = send_collections(client, changes, settings.record_retries)
        with transaction() as session:
            record_outcome(session, outcome, started)
        report.update(
            accepted=len(outcome.accepted),
            rejected=len(outcome.rejected),
            record_retries=outcome.record_retries,
            errors=dict(Counter(code for _c, code, _m in outcome.rejected)),
        )
    with transaction() as session:
        candidates.save(session, mark, full=account_ids is None)
    report["api_calls"] = client.stats.api_calls - calls_before
    return report
