"""Rep work in Salesforce: a Task or Case on the Account (and Opportunities for offers).

Each is created at most once per idempotency key, and its Salesforce id is kept in
``salesforce_work``. The row is marked ``creating`` before the create call goes out; if a run
dies after Salesforce created the record but before its id was saved, the next attempt finds
that record (same Account, same subject or name, created since the attempt began) and adopts
it instead of creating a second one.

    result = open_task(client, db.begin, settings, key="intervention:42:2026-11-24",
                       account=AccountRef.of(account), subject="Call: health dropped",
                       description="...", due_date=date(2026, 11, 26), priority="High")
    result.salesforce_id, result.created
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.models import SalesforceWork
from integrations.errors import FatalError, RetriableError, SkippableError
from integrations.salesforce.client import SalesforceClient
from integrations.salesforce.settings import SalesforceSettings
from integrations.salesforce.state import soql_ts

Transaction = Callable[[], AbstractContextManager[Session]]
LOOKUP_SLACK = timedelta(minutes=5)  # clock skew between the hub and Salesforce
TASK_PRIORITIES = {"urgent": "High", "high": "High", "normal": "Normal", "medium": "Normal"}
CASE_PRIORITIES = {"urgent": "High", "high": "High", "normal": "Medium", "medium": "Medium"}


@dataclass(frozen=True)
class AccountRef:
    """The account a piece of work is about, as Salesforce knows it."""

    salesforce_id: str | None
    account_id: int | None = None
    owner_salesforce_id: str | None = None

    @classmethod
    def of(cls, account: Any) -> AccountRef:
        """From a hub ``Account`` (or a mapping with the same keys)."""
        get = account.get if isinstance(account, dict) else lambda k: getattr(account, k, None)
        return cls(get("salesforce_id"), get("id"), get("owner_salesforce_id"))


@dataclass(frozen=True)
class WorkResult:
    salesforce_id: str
    created: bool  # False when the key had already been used (or the record was adopted)
    sobject: str


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _priority(value: str, table: dict[str, str]) -> str:
    return table.get(value.strip().lower(), "Low" if value.strip().lower() == "low" else "Normal")


def task_fields(
    account: AccountRef,
    settings: SalesforceSettings,
    *,
    subject: str,
    description: str,
    due_date: date,
    priority: str = "Normal",
    owner_id: str | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "WhatId": account.salesforce_id,
        "Subject": subject[:255],
        "Description": description[:32000],
        "ActivityDate": due_date.isoformat(),
        "Priority": _priority(priority, TASK_PRIORITIES),
        "Status": "Not Started",
    }
    owner = owner_id or account.owner_salesforce_id or settings.default_owner_id
    if owner:
        fields["OwnerId"] = owner
    return fields


def case_fields(
    account: AccountRef,
    settings: SalesforceSettings,
    *,
    subject: str,
    description: str,
    priority: str = "Medium",
    contact_salesforce_id: str | None = None,
    owner_id: str | None = None,
) -> dict[str, Any]:
    prio = _priority(priority, CASE_PRIORITIES)
    fields: dict[str, Any] = {
        "AccountId": account.salesforce_id,
        "Subject": subject[:255],
        "Description": description[:32000],
        "Priority": "Medium" if prio == "Normal" else prio,
        "Origin": settings.case_origin,
        "Status": "New",
    }
    if contact_salesforce_id:
        fields["ContactId"] = contact_salesforce_id
    if owner_id:  # otherwise the org's case assignment rules decide
        fields["OwnerId"] = owner_id
    return fields


def opportunity_fields(
    account: AccountRef,
    settings: SalesforceSettings,
    *,
    name: str,
    close_date: date,
    amount: float | None = None,
    kind: str = "Existing Customer - Upgrade",
    description: str | None = None,
    stage: str | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "AccountId": account.salesforce_id,
        "Name": name[:120],
        "StageName": stage or settings.opportunity_stage,
        "CloseDate": close_date.isoformat(),
        "Type": kind,
    }
    if amount is not None:
        fields["Amount"] = round(float(amount), 2)
    if description:
        fields["Description"] = description[:32000]
    owner = account.owner_salesforce_id or settings.default_owner_id
    if owner:
        fields["OwnerId"] = owner
    return fields


def _lookup_soql(sobject: str, fields: dict[str, Any], since: datetime) -> str:
    if sobject == "Task":
        match = f"WhatId = {_quote(fields['WhatId'])} AND Subject = {_quote(fields['Subject'])}"
    elif sobject == "Case":
        match = (
            f"AccountId = {_quote(fields['AccountId'])} AND Subject = {_quote(fields['Subject'])}"
        )
    else:
        match = f"AccountId = {_quote(fields['AccountId'])} AND Name = {_quote(fields['Name'])}"
    return (
        f"SELECT Id FROM {sobject} WHERE {match} AND CreatedDate >= {soql_ts(since)} "
        "ORDER BY CreatedDate ASC LIMIT 1"
    )


def _claim(transaction: Transaction, key: str, sobject: str, account: AccountRef, fields: dict):
    """Reserve the key; (row id, state before, attempt start before, id if already created)."""
    for _ in range(2):
        try:
            with transaction() as session:
                row = session.scalar(
                    select(SalesforceWork).where(SalesforceWork.idempotency_key == key)
                )
                if row is None:
                    row = SalesforceWork(
                        idempotency_key=key,
                        sobject=sobject,
                        account_id=account.account_id,
                        fields=fields,
                        status="pending",
                        attempts=0,
                    )
                    session.add(row)
                    session.flush()
                if row.status == "created":
                    return row.id, "created", row.attempt_started_at, row.salesforce_id
                before, started = row.status, row.attempt_started_at
                row.status, row.attempt_started_at = "creating", utcnow()
                row.attempts = (row.attempts or 0) + 1
                row.fields = fields
                return row.id, before, started, None
        except IntegrityError:  # another worker inserted the same key first
            continue
    raise RetriableError(f"could not claim idempotency key {key!r}", code="claim_conflict")


def _finish(transaction: Transaction, row_id: int, **values: Any) -> None:
    with transaction() as session:
        row = session.get(SalesforceWork, row_id)
        for name, value in values.items():
            setattr(row, name, value)


def open_record(
    client: SalesforceClient,
    transaction: Transaction,
    *,
    key: str,
    sobject: str,
    account: AccountRef,
    fields: dict[str, Any],
) -> WorkResult:
    """Create ``sobject`` with ``fields`` once per ``key``; its Salesforce id."""
    if not account.salesforce_id:
        raise SkippableError("the account is not in Salesforce (no Salesforce id)")
    row_id, before, started, done = _claim(transaction, key, sobject, account, fields)
    if done:
        return WorkResult(done, False, sobject)
    if before == "creating" and started is not None:
        # an earlier attempt may have created it and died before saving the id
        found = client.query_all(_lookup_soql(sobject, fields, started - LOOKUP_SLACK))
        if found:
            _finish(
                transaction,
                row_id,
                status="created",
                salesforce_id=found[0]["Id"],
                completed_at=utcnow(),
                last_error=None,
            )
            return WorkResult(found[0]["Id"], False, sobject)
    try:
        record_id = client.create(sobject, fields)
    except FatalError as exc:  # refused: nothing was created, a later attempt may try again
        _finish(transaction, row_id, status="failed", last_error=str(exc)[:2000])
        raise
    except RetriableError as exc:  # unknown outcome: stay "creating" so the retry looks first
        _finish(transaction, row_id, last_error=str(exc)[:2000])
        raise
    _finish(
        transaction,
        row_id,
        status="created",
        salesforce_id=record_id,
        completed_at=utcnow(),
        last_error=None,
    )
    return WorkResult(record_id, True, sobject)


def open_task(
    client: SalesforceClient,
    transaction: Transaction,
    settings: SalesforceSettings,
    *,
    key: str,
    account: AccountRef,
    subject: str,
    description: str,
    due_date: date,
    priority: str = "Normal",
    owner_id: str | None = None,
) -> WorkResult:
    """A Task on the Account, assigned to its owner (or ``owner_id``), once per key."""
    fields = task_fields(
        account,
        settings,
        subject=subject,
        description=description,
        due_date=due_date,
        priority=priority,
        owner_id=owner_id,
    )
    return open_record(client, transaction, key=key, sobject="Task", account=account, fields=fields)


def open_case(
    client: SalesforceClient,
    transaction: Transaction,
    settings: SalesforceSettings,
    *,
    key: str,
    account: AccountRef,
    subject: str,
    description: str,
    priority: str = "Medium",
    contact_salesforce_id: str | None = None,
    owner_id: str | None = None,
) -> WorkResult:
    """A Case on the Account (negative feedback, say), once per key."""
    fields = case_fields(
        account,
        settings,
        subject=subject,
        description=description,
        priority=priority,
        contact_salesforce_id=contact_salesforce_id,
        owner_id=owner_id,
    )
    return open_record(client, transaction, key=key, sobject="Case", account=account, fields=fields)


def open_opportunity(
    client: SalesforceClient,
    transaction: Transaction,
    settings: SalesforceSettings,
    *,
    key: str,
    account: AccountRef,
    name: str,
    close_date: date,
    amount: float | None = None,
    kind: str = "Existing Customer - Upgrade",
    description: str | None = None,
    stage: str | None = None,
) -> WorkResult:
    """An Opportunity on the Account (an upsell or cross-sell offer), once per key."""
    fields = opportunity_fields(
        account,
        settings,
        name=name,
        close_date=close_date,
        amount=amount,
        kind=kind,
        description=description,
        stage=stage,
    )
    return open_record(
        client, transaction, key=key, sobject="Opportunity", account=account, fields=fields
    )
