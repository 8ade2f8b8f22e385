"""The client's meter: every request's kind, the API calls spent, the allowance left."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests


@dataclass
class ApiUsage:
    used: int | None = None
    total: int | None = None

    @property
    def remaining(self) -> int | None:
        return None if self.used is None or self.total is None else self.total - self.used


@dataclass
class ClientStats:
    api_calls: int = 0  # requests to the instance (they count against the daily allowance)
    auth_calls: int = 0  # OAuth requests (token, userinfo: they do not)
    retries: int = 0
    reauths: int = 0
    limit_waits: int = 0
    calls_by_kind: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "api_calls": self.api_calls,
            "auth_calls": self.auth_calls,
            "retries": self.retries,
            "reauths": self.reauths,
            "limit_waits": self.limit_waits,
            "calls_by_kind": dict(self.calls_by_kind),
        }


class MeteredSession(requests.Session):
    """A requests session that verifies TLS, times out, and reports every call.

    ``before(method, url)`` runs before a request is sent (it may refuse it by raising) and
    answers the call's kind; ``after(kind, response)`` sees every response.
    """

    def __init__(
        self,
        before: Callable[[str, str], str],
        after: Callable[[str, requests.Response], None],
        verify: str | bool,
        timeout: float,
    ) -> None:
        super().__init__()
        self.verify = verify
        self._before = before
        self._after = after
        self._timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        # an explicit ``verify``: a configured CA bundle wins over the environment's
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("timeout", self._timeout)
        kind = self._before(method, url)
        response = super().request(method, url, *args, **kwargs)
        self._after(kind, response)
        return response


def call_kind(url: str) -> str:
    """What a request is, for the meter (``auth`` requests are not API calls)."""
    path = urlsplit(url).path
    if "/services/oauth2/" in path:  # token and userinfo: not API calls
        return "auth"
    if "/jobs/ingest" in path:
        return "bulk"
    if "/composite/" in path:
        return "collections"
    if "/query" in path:
        return "query"
    if "/tooling/" in path:
        return "tooling"
    return "rest"
