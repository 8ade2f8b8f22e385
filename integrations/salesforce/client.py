"""The one Salesforce client: auth, retries, API limits and error mapping around simple-salesforce.

Every call goes through simple-salesforce (``Salesforce(instance_url=, session_id=)``, its
query/query_more, ``restful``, ``bulk2``, ``toolingexecute``, ``oauth2``) on a ``requests``
session this client owns, so it sees every request and response:

- TLS is always verified, against ``REQUESTS_CA_BUNDLE`` (``Config.requests_ca_bundle``) when
  set; every request has a timeout.
- ``Sforce-Limit-Info`` (``api-usage=used/total``) is read on every response. A configurable
  share of the daily allowance is kept in reserve: a call that would dip into it is not sent;
  ``ApiLimitPaused`` (retriable, with ``retry_after``) tells the job to reschedule.
- ``REQUEST_LIMIT_EXCEEDED`` backs off and retries a few times, then pauses the same way.
- ``INVALID_SESSION_ID`` re-authenticates once and retries the call.
- 5xx answers and connection errors are retried with exponential backoff and jitter.
- Anything else is a ``FatalError`` carrying Salesforce's ``errorCode``.
"""

from __future__ import annotations

import csv
import io
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceOperationError,
    SalesforceRefusedRequest,
)

from integrations.errors import FatalError, IntegrationError, RetriableError
from integrations.salesforce.auth import Token, authenticate
from integrations.salesforce.meter import ApiUsage, ClientStats, MeteredSession, call_kind
from integrations.salesforce.settings import SalesforceSettings

T = TypeVar("T")

COLLECTION_LIMIT = 200  # records per sObject Collections call


class ApiLimitPaused(RetriableError):
    """The daily API allowance is (nearly) spent: stop now, reschedule after ``retry_after``."""


@dataclass
class BulkResult:
    job_ids: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # sf__Id, sf__Error, columns
    successful_ids: set[str] | None = None  # read only when some rows went unprocessed
    processed: int = 0
    complete: bool = True  # every uploaded row was processed


class SalesforceClient:
    """Salesforce for one run (a job, a CLI command): owns the session, the token and the meter."""

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        paused_until: float | None = None,
        usage: ApiUsage | None = None,
    ) -> None:
        self.settings = settings
        self.stats = ClientStats()
        self.usage = usage or ApiUsage()
        self.paused_until = paused_until
        self._sleep = sleep
        self._clock = clock
        self._token: Token | None = None
        self._sf: Salesforce | None = None
        self._http = MeteredSession(
            self._before, self._after, settings.ca_bundle or True, settings.timeout_s
        )

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> SalesforceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def connected(self) -> bool:
        return self._sf is not None

    @property
    def instance_url(self) -> str | None:
        return self._token.instance_url if self._token else None

    def connect(self) -> Salesforce:
        """The simple-salesforce handle, logging in first when there is no token yet."""
        if self._sf is None:
            self._token = authenticate(self.settings.credentials, self._http)
            self._sf = Salesforce(
                instance_url=self._token.instance_url,
                session_id=self._token.access_token,
                version=self.settings.api_version,
                session=self._http,
                object_pairs_hook=dict,
            )
        return self._sf

    # -- the meter (called by the session around every request) ---------------------------
    def _before(self, _method: str, url: str) -> str:
        kind = call_kind(url)
        if kind != "auth":
            self._gate(1)
        return kind

    def _after(self, kind: str, response: requests.Response) -> None:
        if kind == "auth":
            self.stats.auth_calls += 1
            return
        self.stats.api_calls += 1
        self.stats.calls_by_kind[kind] += 1
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            usage = Salesforce.parse_api_usage(info).get("api-usage")
            if usage is not None:
                self.usage = ApiUsage(used=usage.used, total=usage.total)

    def _gate(self, cost: int) -> None:
        """Refuse a call while paused, or when it would eat into the reserved allowance."""
        now = self._clock()
        if self.paused_until is not None and now < self.paused_until:
            raise ApiLimitPaused(
                "Salesforce API calls are paused to protect the daily allowance",
                code="api_paused",
                retry_after=self.paused_until - now,
            )
        remaining, total = self.usage.remaining, self.usage.total
        if remaining is None or not total:
            return
        reserve = math.ceil(total * self.settings.reserve_share)
        if remaining - cost < reserve:
            self.paused_until = now + self.settings.limit_pause_s
            raise ApiLimitPaused(
                f"{remaining} of {total} daily API calls left; {reserve} are kept in reserve",
                code="api_reserve",
                retry_after=self.settings.limit_pause_s,
            )

    def budget(self) -> int | None:
        """API calls that can still be spent before the reserve (None while unknown)."""
        remaining, total = self.usage.remaining, self.usage.total
        if remaining is None or not total:
            return None
        return max(0, remaining - math.ceil(total * self.settings.reserve_share))

    # -- the one way to call -------------------------------------------------------------
    def _backoff(self, attempt: int, base: float | None = None) -> float:
        base = self.settings.backoff_base_s if base is None else base
        delay = min(self.settings.backoff_max_s, base * (2**attempt))
        return delay * (0.5 + random.random() / 2)  # jitter, not crypto

    def pause(self, attempt: int) -> None:
        """Sleep the backoff for ``attempt`` (used between per-record retries)."""
        self.stats.retries += 1
        self._sleep(self._backoff(attempt))

    def run(self, op: Callable[[Salesforce], T], *, cost: int = 1, what: str = "call") -> T:
        """Run ``op`` against Salesforce with re-auth, backoff and limit handling."""
        self._gate(cost)
        attempt = limit_waits = 0
        reauthed = False
        while True:
            sf = self.connect()
            try:
                return op(sf)
            except SalesforceExpiredSession as exc:
                code = error_code(exc)
                if code != "INVALID_SESSION_ID" or reauthed:
                    raise _fatal(exc, what) from exc
                if not self.settings.credentials.can_refresh:
                    raise FatalError(
                        "the configured Salesforce access token has expired",
                        status=401,
                        code=code,
                    ) from exc
                reauthed = True
                self.stats.reauths += 1
                self._sf = self._token = None
            except SalesforceRefusedRequest as exc:
                if error_code(exc) != "REQUEST_LIMIT_EXCEEDED":
                    raise _fatal(exc, what) from exc
                if limit_waits >= self.settings.limit_retries:
                    self.paused_until = self._clock() + self.settings.limit_pause_s
                    raise ApiLimitPaused(
                        f"Salesforce refused {what}: {error_message(exc)}",
                        status=403,
                        code="REQUEST_LIMIT_EXCEEDED",
                        retry_after=self.settings.limit_pause_s,
                    ) from exc
                self.stats.limit_waits += 1
                self._sleep(self._backoff(limit_waits, base=self.settings.backoff_base_s * 5))
                limit_waits += 1
            except (SalesforceGeneralError, requests.ConnectionError, requests.Timeout) as exc:
                if isinstance(exc, requests.exceptions.SSLError):
                    raise FatalError(f"TLS verification failed: {exc}") from exc
                status = getattr(exc, "status", None)
                if isinstance(exc, SalesforceGeneralError) and status is not None and status < 500:
                    raise _fatal(exc, what) from exc
                if attempt >= self.settings.max_retries:
                    raise RetriableError(
                        f"Salesforce {what} failed after {attempt + 1} tries: {exc}",
                        status=status,
                        code=error_code(exc) if isinstance(exc, SalesforceError) else None,
                    ) from exc
                self.stats.retries += 1
                self._sleep(self._backoff(attempt))
                attempt += 1
            except SalesforceError as exc:
                raise _fatal(exc, what) from exc
            except SalesforceOperationError as exc:
                raise FatalError(f"Salesforce {what} failed: {exc}", code="bulk_failed") from exc

    # -- operations ----------------------------------------------------------------------
    def query_pages(
        self, soql: str, *, include_deleted: bool = False, page_size: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page of a SOQL query, following ``nextRecordsUrl``; one page in memory at a time."""
        size = page_size or self.settings.page_size
        headers = {"Sforce-Query-Options": f"batchSize={size}"}
        result = self.run(
            lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers),
            what="query",
        )
        while True:
            records = result.get("records") or []
            next_url = None if result.get("done", True) else result.get("nextRecordsUrl")
            del result
            yield records
            if not next_url:
                return
            result = self.run(
                lambda sf, url=next_url: sf.query_more(
                    url, identifier_is_url=True, headers=headers
                ),
                what="query_more",
            )

    def query_all(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of a (small) query."""
        out: list[dict[str, Any]] = []
        for page in self.query_pages(soql, include_deleted=include_deleted):
            out.extend(page)
        return out

    def save_collection(self, method: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """sObject Collections create (POST) or update (PATCH), ``allOrNone`` false."""
        if not 0 < len(records) <= COLLECTION_LIMIT:
            raise ValueError(f"a collection call takes 1..{COLLECTION_LIMIT} records")
        body = {"allOrNone": False, "records": records}
        result = self.run(
            lambda sf: sf.restful("composite/sobjects", method=method, json=body),
            what=f"composite/sobjects {method}",
        )
        return list(result or [])

    def create(self, sobject: str, fields: dict[str, Any]) -> str:
        """Create one record; its Salesforce id."""
        result = self.run(lambda sf: getattr(sf, sobject).create(fields), what=f"create {sobject}")
        if not result.get("success", True) or not result.get("id"):
            raise FatalError(f"create {sobject} failed: {result.get('errors')}")
        return str(result["id"])

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        """Update one record (one call; the bulk paths are cheaper for many)."""
        self.run(
            lambda sf: getattr(sf, sobject).update(record_id, fields), what=f"update {sobject}"
        )

    def describe(self, sobject: str) -> dict[str, Any]:
        return self.run(lambda sf: getattr(sf, sobject).describe(), what=f"describe {sobject}")

    def limits(self) -> dict[str, Any]:
        return self.run(lambda sf: sf.limits(), what="limits")

    def userinfo(self) -> dict[str, Any]:
        return self.run(lambda sf: sf.oauth2("userinfo") or {}, what="userinfo")

    def tooling_create(self, sobject: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.run(
            lambda sf: sf.toolingexecute(f"sobjects/{sobject}", method="POST", data=body),
            what=f"tooling create {sobject}",
        )

    def bulk_update(self, sobject: str, csv_path: Path, rows: int) -> BulkResult:
        """Bulk API 2.0 update: create, upload, close, poll; then the failed rows.

        One job per 100 MB of CSV. When every row was processed, the failed results name the
        only rows that did not succeed; otherwise the successful results are read as well
        (rows in neither list were not processed).
        """
        wait = max(self.settings.bulk_poll_s, rows / self.settings.bulk_rows_per_s)
        jobs = self.run(
            lambda sf: getattr(sf.bulk2, sobject).update(csv_file=str(csv_path), wait=wait),
            cost=6,
            what=f"bulk update {sobject}",
        )
        result = BulkResult()
        for job in jobs:
            job_id = str(job["job_id"])
            result.job_ids.append(job_id)
            processed = int(job.get("numberRecordsProcessed", 0))
            total = int(job.get("numberRecordsTotal", processed))
            result.processed += processed
            if int(job.get("numberRecordsFailed", 0)):
                text = self.run(
                    lambda sf, j=job_id: getattr(sf.bulk2, sobject).get_failed_records(j),
                    what="bulk failedResults",
                )
                result.failed.extend(_csv_rows(text))
            if processed < total:
                text = self.run(
                    lambda sf, j=job_id: getattr(sf.bulk2, sobject).get_successful_records(j),
                    what="bulk successfulResults",
                )
                ids = {row.get("sf__Id") or row.get("Id") or "" for row in _csv_rows(text)}
                result.successful_ids = (result.successful_ids or set()) | ids
                result.complete = False
        return result


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text and text.strip() else []


def _first_error(exc: SalesforceError) -> dict[str, Any]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0]
    if isinstance(content, dict):
        return content
    return {}


def error_code(exc: SalesforceError) -> str | None:
    """Salesforce's ``errorCode`` in an error response, if it has one."""
    return _first_error(exc).get("errorCode")


def error_message(exc: SalesforceError) -> str:
    first = _first_error(exc)
    return str(first.get("message") or exc.content)[:500]


def _fatal(exc: SalesforceError, what: str) -> IntegrationError:
    code = error_code(exc)
    return FatalError(
        f"Salesforce {what} failed: {code or exc.status}: {error_message(exc)}",
        status=exc.status,
        code=code,
    )
