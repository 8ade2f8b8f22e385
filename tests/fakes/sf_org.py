"""The fake Salesforce org: schema, records, tokens, API-call counting, faults, Bulk 2.0 jobs.

Used by ``tests.fakes.salesforce`` (the HTTPS server); see that module for the rules it
enforces. Everything here is thread-safe behind one lock (the server is threaded).
"""

from __future__ import annotations

import itertools
import secrets
import string
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.fakes import sf_soql
from tests.fakes.sf_bulk import BulkJob, BulkJobs
from tests.fakes.sf_query import SoqlQueries
from tests.fakes.sf_schema import (
    CUSTOM_ACCOUNT_FIELDS,
    LENGTHS,
    METADATA_TYPES,
    PREFIX,
    READ_ONLY,
    REQUIRED,
    SCORE_FIELDS,
    STANDARD,
    ApiError,
    RecordError,
    to18,
)


@dataclass
class Fault:
    status: int
    code: str
    message: str
    times: int
    method: str | None = None
    path_contains: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class Client:
    client_id: str
    secret: str | None = None
    public_key: bytes | None = None


class Org(SoqlQueries, BulkJobs):
    """One org's data and rules; every public method is safe to call from any thread."""

    def __init__(
        self,
        *,
        api_limit: int = 100_000,
        token_ttl_s: float = 7200.0,
        custom_fields: bool = True,
        score_fields: bool = False,
        bulk_rows_per_s: float = 200_000.0,
        bulk_min_s: float = 0.05,
    ) -> None:
        self.lock = threading.RLock()
        self.api_limit = api_limit
        self.api_used = 0
        self.token_ttl_s = token_ttl_s
        self.bulk_rows_per_s = bulk_rows_per_s
        self.bulk_min_s = bulk_min_s
        self.calls = 0  # API calls counted against the allowance
        self.calls_by_kind: Counter[str] = Counter()
        self.auth_requests = 0
        self.auth_failures = 0  # the next N token requests answer 503
        self.expire_after_calls: int | None = None  # sessions expire once N more calls pass
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.locked: dict[str, int] = {}  # record id -> failures left (UNABLE_TO_LOCK_ROW)
        self.clients: dict[str, Client] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (user id, expires at)
        self.schema: dict[str, dict[str, str]] = {k: dict(v) for k, v in STANDARD.items()}
        if custom_fields:
            self.schema["Account"].update(CUSTOM_ACCOUNT_FIELDS)
        if score_fields:
            self.schema["Account"].update(SCORE_FIELDS)
        self.records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in self.schema}
        self.locators: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, BulkJob] = {}
        self._seq = itertools.count(1)
        self._case_numbers = itertools.count(1)
        self._last_stamp = datetime.now(UTC).replace(microsecond=0)
        self.org_id = self.new_id("Organization")
        self.insert("Organization", {"Name": "cshub fake org", "IsSandbox": True}, id_=self.org_id)
        self.user_id = self.insert(
            "User",
            {"Username": "integration@cshub.test", "Email": "cs-ops@cshub.test", "Name": "cshub"},
        )

    # -- ids, time ---------------------------------------------------------------------------
    def new_id(self, kind: str) -> str:
        n = next(self._seq)
        alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
        body = ""
        for _ in range(12):
            n, r = divmod(n, 62)
            body = alphabet[r] + body
        return to18(PREFIX[kind] + body[-12:].rjust(12, "0"))

    def stamp(self, after: datetime | None = None) -> datetime:
        """Now to the millisecond (never earlier than a stamp already given; ties allowed),
        and strictly later than ``after`` (a record's previous stamp)."""
        with self.lock:
            now = datetime.now(UTC)
            now = max(now.replace(microsecond=now.microsecond // 1000 * 1000), self._last_stamp)
            if after is not None and now <= after:
                now = after + timedelta(milliseconds=1)
            self._last_stamp = now
            return now

    # -- auth ------------------------------------------------------------------------------
    def add_client(
        self, client_id: str, secret: str | None = None, public_key: bytes | None = None
    ) -> None:
        self.clients[client_id] = Client(client_id, secret, public_key)

    def issue_token(self, user_id: str | None = None) -> str:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(32)}"
        with self.lock:
            self.tokens[token] = (user_id or self.user_id, time.time() + self.token_ttl_s)
        return token

    def session_user(self, authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        entry = self.tokens.get(authorization[7:])
        if entry is None or entry[1] <= time.time():
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        return entry[0]

    def expire_sessions(self) -> None:
        """Every issued token expires now (the next call answers INVALID_SESSION_ID)."""
        with self.lock:
            self.tokens = {t: (u, 0.0) for t, (u, _exp) in self.tokens.items()}

    # -- the allowance, faults ---------------------------------------------------------------
    def count_call(self, method: str, path: str, kind: str) -> None:
        """Count one API call, or refuse it when the daily allowance is spent."""
        with self.lock:
            self.requests.append((method, path))
            if self.api_used >= self.api_limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.api_used += 1
            self.calls += 1
            self.calls_by_kind[kind] += 1
            if self.expire_after_calls is not None:
                self.expire_after_calls -= 1
                if self.expire_after_calls <= 0:
                    self.expire_after_calls = None
                    self.expire_sessions()
            for fault in self.faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    raise ApiError(fault.status, fault.code, fault.message)

    def limit_info(self) -> str:
        return f"api-usage={self.api_used}/{self.api_limit}"

    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 503,
        code: str = "SERVER_UNAVAILABLE",
        message: str = "Service temporarily unavailable",
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """The next ``times`` matching API calls answer ``status`` (they still count)."""
        with self.lock:
            self.faults.append(Fault(status, code, message, times, method, path_contains))

    def lock_rows(self, ids: list[str], times: int = 1) -> None:
        """Writes to these records fail with UNABLE_TO_LOCK_ROW ``times`` times each."""
        with self.lock:
            for record_id in ids:
                self.locked[record_id] = times

    def reset_counters(self) -> None:
        with self.lock:
            self.calls = 0
            self.calls_by_kind.clear()
            self.requests.clear()
            self.auth_requests = 0

    # -- records -------------------------------------------------------------------------------
    def field_name(self, sobject: str, name: str) -> str:
        """The canonical name of a field (SOQL and JSON names are case-insensitive)."""
        fields = self.schema[sobject]
        if name in fields or name in READ_ONLY:
            return name
        lowered = name.lower()
        for known in (*fields, *READ_ONLY, "CreatedById"):
            if known.lower() == lowered:
                return known
        raise RecordError(
            "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name]
        )

    def _coerce(self, sobject: str, name: str, value: Any) -> Any:
        kind = self.schema[sobject].get(name, "string")
        if value is None:
            return None
        try:
            if kind in ("double", "currency", "percent"):
                return float(value)
            if kind == "boolean":
                return value if isinstance(value, bool) else str(value).lower() == "true"
            if kind == "date":
                return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
            if kind == "datetime":
                return value if isinstance(value, datetime) else sf_soql._parse_dt(str(value))
        except (TypeError, ValueError) as exc:
            raise RecordError(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{name}: value not of required type: {value}",
                [name],
            ) from exc
        text = str(value)
        if len(text) > LENGTHS.get(kind, 255) and not kind.startswith("reference"):
            raise RecordError(
                "STRING_TOO_LONG",
                f"{name}: data value too large: {text[:40]}... (max length={LENGTHS[kind]})",
                [name],
            )
        if kind.startswith("reference:") and text:
            target = kind.split(":", 1)[1]
            targets = (target, "Contact") if name == "WhoId" else (target,)
            if not any(text in self.records.get(t, {}) for t in targets):
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {text}", [name]
                )
        return text

    def _values(self, sobject: str, fields: dict[str, Any], creating: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for raw_name, value in fields.items():
            if raw_name in ("attributes", "Id", "id"):
                continue
            name = self.field_name(sobject, raw_name)
            if name in READ_ONLY and not (name == "IsClosed" and creating and value is None):
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    [name],
                )
            out[name] = self._coerce(sobject, name, value)
        return out

    def insert(self, sobject: str, fields: dict[str, Any], *, id_: str | None = None, **stamps):
        """Create a record (no API call counted; seeding and the create endpoints use it)."""
        with self.lock:
            values = self._values(sobject, fields, creating=True)
            missing = [f for f in REQUIRED.get(sobject, ()) if values.get(f) in (None, "")]
            if missing:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", missing
                )
            record_id = id_ or self.new_id(sobject)
            now = stamps.get("modstamp") or self.stamp()
            record = {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": stamps.get("created") or now,
                "LastModifiedDate": now,
                "SystemModstamp": now,
                "CreatedById": getattr(self, "user_id", record_id),
                **values,
            }
            if sobject == "Case":
                record.setdefault("CaseNumber", f"{next(self._case_numbers):08d}")
                record["IsClosed"] = record.get("Status") == "Closed"
            if sobject == "Opportunity":
                stage = str(record.get("StageName") or "")
                record["IsClosed"] = stage.startswith("Closed")
                record["IsWon"] = stage == "Closed Won"
            if sobject == "Contact":
                record["Name"] = " ".join(
                    p for p in (record.get("FirstName"), record.get("LastName")) if p
                )
            self.records[sobject][record_id] = record
            return record_id

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        with self.lock:
            record = self.records.get(sobject, {}).get(record_id)
            if record is None:
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {record_id}"
                )
            if record["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
            left = self.locked.get(record_id, 0)
            if left > 0:
                self.locked[record_id] = left - 1
                raise RecordError(
                    "UNABLE_TO_LOCK_ROW",
                    f"unable to obtain exclusive access to this record or 1 records: {record_id}",
                )
            values = self._values(sobject, fields, creating=False)
            record.update(values)
            if sobject == "Case" and "Status" in values:
                record["IsClosed"] = values["Status"] == "Closed"
            now = self.stamp(after=record["SystemModstamp"])
            record["LastModifiedDate"] = record["SystemModstamp"] = now

    def delete(self, sobject: str, record_id: str) -> None:
        with self.lock:
            record = self.records[sobject][record_id]
            record["IsDeleted"] = True
            record["SystemModstamp"] = self.stamp(after=record["SystemModstamp"])

    def set_fields(self, sobject: str, record_id: str, **values: Any) -> None:
        """Change a record as a Salesforce user would (modstamp moves; no API call)."""
        self.update(sobject, record_id, values)

    # -- metadata --------------------------------------------------------------------------
    def create_custom_field(self, body: dict[str, Any]) -> str:
        full = str(body.get("FullName") or "")
        meta = body.get("Metadata") or {}
        sobject, _, name = full.partition(".")
        if sobject not in self.schema or not name.endswith("__c"):
            raise ApiError(400, "INVALID_INPUT", f"Invalid FullName: {full}")
        kind = METADATA_TYPES.get(meta.get("type"))
        if kind is None:
            raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION", f"Unsupported type {meta.get('type')}")
        if not meta.get("label"):
            raise ApiError(400, "REQUIRED_FIELD_MISSING", "Required field is missing: label")
        if meta["type"] == "Text" and not 1 <= int(meta.get("length") or 0) <= 255:
            raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION", "Length must be 1..255")
        if meta["type"] in ("Number", "Percent", "Currency") and "precision" not in meta:
            raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION", "Precision is required")
        with self.lock:
            if any(f.lower() == name.lower() for f in self.schema[sobject]):
                raise ApiError(
                    400,
                    "DUPLICATE_DEVELOPER_NAME",
                    f"There is already a field named {name[:-3]} on {sobject}.",
                )
            self.schema[sobject][name] = kind
        return self.new_id("CustomField")

    def describe(self, sobject: str) -> dict[str, Any]:
        fields = [
            {
                "name": name,
                "type": kind.split(":")[0],
                "custom": name.endswith("__c"),
                "updateable": name not in READ_ONLY,
                "createable": name not in READ_ONLY,
                "nillable": name not in REQUIRED.get(sobject, ()),
                "label": name.replace("__c", "").replace("_", " "),
                "referenceTo": [kind.split(":")[1]] if kind.startswith("reference:") else [],
            }
            for name, kind in {
                "Id": "id",
                "IsDeleted": "boolean",
                "CreatedDate": "datetime",
                "LastModifiedDate": "datetime",
                "SystemModstamp": "datetime",
                **self.schema[sobject],
            }.items()
        ]
        return {"name": sobject, "label": sobject, "custom": False, "fields": fields}

    # -- convenience for tests and benchmarks -----------------------------------------------------
    def seed_accounts(self, count: int, **fields: Any) -> list[str]:
        """``count`` Accounts with realistic fields (segment, plan, MRR, website)."""
        segments = ("individual_miner", "mining_farm", "crypto_trader", "institution")
        plans = ("starter", "pro", "enterprise")
        ids = []
        with self.lock:
            for i in range(count):
                values = {
                    "Name": f"Account {i:06d}",
                    "Website": f"https://www.account{i:06d}.example",
                    "OwnerId": self.user_id,
                    "Type": "Customer",
                }
                if "Segment__c" in self.schema["Account"]:
                    values.update(
                        {
                            "Segment__c": segments[i % 4],
                            "Plan__c": plans[i % 3],
                            "MRR__c": float(100 + (i % 50) * 10),
                        }
                    )
                values.update(fields)
                ids.append(self.insert("Account", values))
        return ids

    def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        return self.records[sobject][record_id]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": self.calls,
                "calls_by_kind": dict(self.calls_by_kind),
                "auth_requests": self.auth_requests,
                "api_used": self.api_used,
                "api_limit": self.api_limit,
                "records": {k: len(v) for k, v in self.records.items()},
            }
