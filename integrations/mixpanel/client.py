"""HTTP to Mixpanel: the streamed Raw Event Export and the ingestion endpoints.

This module owns auth (service account, HTTP basic, ``project_id`` on the query string),
retries, rate limits and error mapping. Back-off follows Mixpanel's advice for 429s:
start at 2 s, double up to 60 s, add 1-5 s of jitter; 5xx and connection failures are
retried the same way; any other 4xx is fatal.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
import requests

from integrations.errors import FatalError, IntegrationError, RetriableError, classify_http
from integrations.mixpanel.limiter import RateLimiter
from integrations.mixpanel.settings import MixpanelSettings

log = logging.getLogger(__name__)

EXPORT_PATH = "/api/2.0/export"
USER_AGENT = "cshub-mixpanel/1"


@dataclass
class Backoff:
    """Exponential back-off with jitter; ``sleep`` is injectable for tests."""

    attempts: int = 6
    base: float = 2.0
    cap: float = 60.0
    jitter: tuple[float, float] = (1.0, 5.0)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.cap, max(0.0, retry_after))
        return min(self.cap, self.base * 2**attempt) + random.uniform(*self.jitter)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("error") or body.get("status") or body)[:500]
    except ValueError:
        pass
    return response.text[:500]


class ExportClient:
    """Raw Event Export: JSONL streamed line by line, never loaded whole."""

    def __init__(
        self,
        settings: MixpanelSettings,
        *,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        backoff: Backoff | None = None,
        timeout: tuple[float, float] = (10.0, 300.0),
        chunk_size: int = 1 << 16,
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.session = session or requests.Session()
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.queries = 0

    def iter_lines(
        self, from_date: date, to_date: date, *, limit: int | None = None
    ) -> Iterator[bytes]:
        """Every non-empty line of the export for ``from_date``..``to_date`` (inclusive, UTC)."""
        params: dict[str, Any] = {
            "project_id": self.settings.project_id,
            "from_date": from_date.isoformat(),
            "to_date": to_date.isoformat(),
        }
        if limit is not None:
            params["limit"] = limit
        response = self._open(params)
        try:
            for line in response.iter_lines(chunk_size=self.chunk_size, delimiter=b"\n"):
                if line:
                    yield line
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ConnectionError,
        ) as exc:
            raise RetriableError(f"mixpanel export stream broke: {exc}") from exc
        finally:
            response.close()

    def _open(self, params: dict[str, Any]) -> requests.Response:
        url = self.settings.export_host + EXPORT_PATH
        auth = (self.settings.service_account, self.settings.service_secret)
        last: IntegrationError | None = None
        for attempt in range(self.backoff.attempts):
            if self.limiter is not None:
                self.limiter.acquire()
            self.queries += 1
            try:
                response = self.session.get(
                    url,
                    params=params,
                    auth=auth,
                    stream=True,
                    timeout=self.timeout,
                    verify=self.settings.verify,
                    headers={"Accept": "text/plain", "User-Agent": USER_AGENT},
                )
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
                last = RetriableError(f"mixpanel export unreachable: {exc}")
                self.backoff.sleep(self.backoff.delay(attempt))
                continue
            if response.status_code == 200:
                return response
            error = classify_http(
                response.status_code,
                f"mixpanel export HTTP {response.status_code}: {_error_text(response)}",
                retry_after=_retry_after(response),
            )
            response.close()
            if not isinstance(error, RetriableError):
                raise error
            last = error
            delay = self.backoff.delay(attempt, error.retry_after)
            if response.status_code == 429 and self.limiter is not None:
                self.limiter.penalize(delay)
            log.warning("%s; retrying in %.1fs", error, delay)
            self.backoff.sleep(delay)
        assert last is not None
        raise last


class IngestClient:
    """POSTs batches to ``/engage``, ``/groups`` and ``/import`` with back-off on 429/5xx."""

    def __init__(
        self,
        settings: MixpanelSettings,
        *,
        session: requests.Session | None = None,
        backoff: Backoff | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
    ) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self.requests = 0

    def post(self, path: str, body: bytes) -> dict[str, Any]:
        """POST a JSON array; return the decoded answer (a 400 from /import is returned too)."""
        url = self.settings.api_host + path
        params: dict[str, Any] = {"verbose": 1}
        auth = None
        if path == "/import":
            params = {"strict": 1, "project_id": self.settings.project_id}
            auth = (self.settings.service_account, self.settings.service_secret)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        last: IntegrationError | None = None
        for attempt in range(self.backoff.attempts):
            self.requests += 1
            try:
                response = self.session.post(
                    url,
                    params=params,
                    data=body,
                    auth=auth,
                    headers=headers,
                    timeout=self.timeout,
                    verify=self.settings.verify,
                )
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
                last = RetriableError(f"mixpanel {path} unreachable: {exc}")
                self.backoff.sleep(self.backoff.delay(attempt))
                continue
            answer = _json_or_none(response)
            if response.status_code == 200 or (
                path == "/import" and response.status_code == 400 and "failed_records" in answer
            ):
                if path != "/import" and answer.get("status") != 1:
                    raise FatalError(f"mixpanel {path} rejected the batch: {answer.get('error')}")
                return answer
            error = classify_http(
                response.status_code,
                f"mixpanel {path} HTTP {response.status_code}: {_error_text(response)}",
                retry_after=_retry_after(response),
            )
            if not isinstance(error, RetriableError):
                raise error
            last = error
            delay = self.backoff.delay(attempt, error.retry_after)
            log.warning("%s; retrying in %.1fs", error, delay)
            self.backoff.sleep(delay)
        assert last is not None
        raise last


def _json_or_none(response: requests.Response) -> dict[str, Any]:
    try:
        value = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
