"""Incremental pull of Account, Contact, Opportunity and Case on SystemModstamp.

Each stream keeps its cursor (the newest SystemModstamp applied) in ``sync_state``. A run asks
for ``SystemModstamp >= cursor - overlap`` (records committed late by long transactions are
not lost; the duplicates this re-reads are skipped), ordered by SystemModstamp, through
``queryAll`` so deleted records (``IsDeleted = true``) come back too and are marked deleted in
the hub. The first run has no cursor and backfills everything. Pages (up to 2,000 records)
are applied one at a time, each in its own transaction together with the cursor it reaches,
so a run that dies resumes where it stopped and memory holds one page, never the whole set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.orm import Session

from hub.db import utcnow
from integrations.salesforce import mapping, state
from integrations.salesforce.client import SalesforceClient
from integrations.salesforce.ids import is_id, to18
from integrations.salesforce.records import (
    PullContext,
    apply_accounts,
    apply_cases,
    apply_contacts,
    apply_opportunities,
)
from integrations.salesforce.settings import SalesforceSettings

Transaction = Callable[[], AbstractContextManager[Session]]
DESCRIBE_TTL = timedelta(hours=24)
IDS_PER_QUERY = 200
MAX_ORPHANS = 5000


@dataclass(frozen=True)
class Stream:
    sobject: str
    fields: tuple[str, ...]
    apply: Callable[[Session, list[dict[str, Any]], PullContext], None]


STREAMS: dict[str, Stream] = {
    "Account": Stream("Account", (), apply_accounts),  # fields come from the field map
    "Contact": Stream("Contact", ("AccountId", "Name", "Email", "Phone", "Title"), apply_contacts),
    "Opportunity": Stream(
        "Opportunity",
        (
            "AccountId",
            "Name",
            "Type",
            "StageName",
            "Amount",
            "CloseDate",
            "IsClosed",
            "IsWon",
            "CreatedDate",
        ),
        apply_opportunities,
    ),
    "Case": Stream(
        "Case",
        (
            "AccountId",
            "ContactId",
            "CaseNumber",
            "Subject",
            "Status",
            "Priority",
            "Origin",
            "IsClosed",
            "CreatedDate",
            "ClosedDate",
        ),
        apply_cases,
    ),
}
ORDER = ("Account", "Contact", "Opportunity", "Case")


def soql(
    sobject: str, fields: Iterable[str], where: str | None = None, ordered: bool = True
) -> str:
    """``SELECT Id, IsDeleted, SystemModstamp, <fields> FROM <sobject> ...``."""
    names = ["Id", "IsDeleted", "SystemModstamp"]
    names += [f for f in dict.fromkeys(fields) if f not in names]
    text = f"SELECT {', '.join(names)} FROM {sobject}"
    if where:
        text += f" WHERE {where}"
    if ordered:
        text += " ORDER BY SystemModstamp ASC, Id ASC"
    return text


def account_mappings(
    client: SalesforceClient, transaction: Transaction, settings: SalesforceSettings
) -> tuple[list[mapping.FieldMapping], list[str]]:
    """The pull mappings the org can serve, and the mapped fields it does not have.

    The Account describe is cached for a day (and until the field map changes), so it costs
    one API call a day, not one a run.
    """
    wanted = [m for m in settings.mappings if m.pulls]
    fingerprint = orjson.dumps(sorted(m.salesforce for m in wanted)).decode()
    now = utcnow()
    with transaction() as session:
        cached = state.get(session, "salesforce:describe:Account").state or {}
    at = cached.get("at")
    fresh = (
        cached.get("fingerprint") == fingerprint
        and at
        and now - datetime.fromisoformat(at) < DESCRIBE_TTL
    )
    if fresh:
        available = set(cached.get("fields") or [])
    else:
        described = client.describe("Account")
        available = {f["name"] for f in described.get("fields", [])}
        with transaction() as session:
            row = state.get(session, "salesforce:describe:Account")
            row.state = {
                "fields": sorted(available),
                "fingerprint": fingerprint,
                "at": now.isoformat(),
            }
    active = mapping.pulled(wanted, available)
    missing = [m.salesforce for m in wanted if m not in active]
    return active, missing


def _fields_for(stream: Stream, mappings: Sequence[mapping.FieldMapping]) -> list[str]:
    if stream.sobject != "Account":
        return list(stream.fields)
    return ["Name", *(m.salesforce for m in mappings)]


def pull(
    client: SalesforceClient,
    transaction: Transaction,
    settings: SalesforceSettings,
    *,
    sobjects: Sequence[str] = ORDER,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Pull every stream in ``sobjects``; a report per stream and the API calls spent."""
    calls_before = client.stats.api_calls
    mappings, missing = account_mappings(client, transaction, settings)
    report: dict[str, Any] = {"streams": {}}
    if missing:
        report["unmapped_fields"] = missing
    for sobject in sobjects:
        ctx = PullContext(settings, mappings, now or utcnow())
        report["streams"][sobject] = pull_stream(
            client, transaction, settings, STREAMS[sobject], ctx
        )
    report["api_calls"] = client.stats.api_calls - calls_before
    return report


def pull_stream(
    client: SalesforceClient,
    transaction: Transaction,
    settings: SalesforceSettings,
    stream: Stream,
    ctx: PullContext,
) -> dict[str, Any]:
    name = state.stream_name(stream.sobject)
    with transaction() as session:
        row = state.get(session, name)
        cursor = datetime.fromisoformat(row.cursor) if row.cursor else None
        orphans = list((row.state or {}).get("orphans") or [])
    fields = _fields_for(stream, ctx.account_mappings)
    if orphans:  # contacts whose Account had not arrived last time: once more by id
        _apply_by_ids(client, transaction, stream, fields, orphans, ctx)
        ctx.orphans.clear()
    since = cursor - timedelta(seconds=settings.overlap_s) if cursor else None
    where = f"SystemModstamp >= {state.soql_ts(since)}" if since else None
    records = pages = 0
    newest = cursor
    for page in client.query_pages(soql(stream.sobject, fields, where), include_deleted=True):
        pages += 1
        records += len(page)
        top = max((state.parse_ts(r.get("SystemModstamp")) for r in page), default=None, key=_key)
        with transaction() as session:
            stream.apply(session, page, ctx)
            if top is not None and (newest is None or top > newest):
                newest = top
                state.get(session, name).cursor = newest.isoformat()
    with transaction() as session:
        state.update(
            state.get(session, name),
            last_run_at=ctx.now.isoformat(),
            last_records=records,
            orphans=ctx.orphans[-MAX_ORPHANS:],
        )
    out: dict[str, Any] = {
        "records": records,
        "pages": pages,
        "backfill": cursor is None,
        "since": since.isoformat() if since else None,
        "cursor": newest.isoformat() if newest else None,
        **dict(ctx.stats),
    }
    if ctx.warnings:
        out["warnings"] = dict(ctx.warnings.most_common(20))
    return out


def _key(value: datetime | None) -> datetime:
    return value or datetime.min.replace(tzinfo=UTC)


def _apply_by_ids(
    client: SalesforceClient,
    transaction: Transaction,
    stream: Stream,
    fields: list[str],
    ids: Sequence[str],
    ctx: PullContext,
) -> int:
    count = 0
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[start : start + IDS_PER_QUERY]
        quoted = ", ".join(f"'{i}'" for i in chunk)
        text = soql(stream.sobject, fields, f"Id IN ({quoted})", ordered=False)
        for page in client.query_pages(text, include_deleted=True):
            with transaction() as session:
                stream.apply(session, page, ctx)
            count += len(page)
    return count


def pull_records(
    client: SalesforceClient,
    transaction: Transaction,
    settings: SalesforceSettings,
    sobject: str,
    record_ids: Sequence[str],
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Pull the named records now (an Outbound Message named them); cursors are untouched."""
    if sobject not in STREAMS:
        raise ValueError(f"cannot pull {sobject!r}; one of {', '.join(ORDER)}")
    ids = sorted({to18(i) for i in record_ids if is_id(i)})
    invalid = sorted({i for i in record_ids if not is_id(i)})
    calls_before = client.stats.api_calls
    mappings: list[mapping.FieldMapping] = []
    if sobject == "Account":
        mappings, _missing = account_mappings(client, transaction, settings)
    # applied even when the stamp is already known: an Outbound Message may have carried
    # only some of the record's fields (the ingest applied those and stored the stamp)
    ctx = PullContext(settings, mappings, now or utcnow(), force=True)
    stream = STREAMS[sobject]
    count = _apply_by_ids(client, transaction, stream, _fields_for(stream, mappings), ids, ctx)
    return {
        "sobject": sobject,
        "requested": len(ids),
        "invalid_ids": invalid,
        "records": count,
        "api_calls": client.stats.api_calls - calls_before,
        **dict(Counter(ctx.stats)),
    }
