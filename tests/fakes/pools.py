"""Local fakes of two pools' documented JSON APIs, and a generic JSON server.

- Braiins Pool: ``/accounts/profile/json/btc/`` and ``/accounts/workers/json/btc/``, token
  in ``SlushPool-Auth-Token`` (HTTP 401 without it), hashrates in ``hash_rate_unit``.
- ViaBTC: ``/res/openapi/v1/hashrate?coin=BTC`` with ``X-API-KEY``; a wrong key answers
  HTTP 200 with ``{"code": 1, "message": "..."}`` as ViaBTC's API does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BRAIINS_TOKEN = "braiins-token"
VIABTC_KEY = "viabtc-key"

BRAIINS_PROFILE = {
    "username": "acme",
    "btc": {
        "all_time_reward": "1.23456789",
        "hash_rate_unit": "Gh/s",
        "hash_rate_5m": 405123.5,
        "hash_rate_60m": 401000.0,
        "hash_rate_24h": 399800.2,
        "hash_rate_yesterday": 398000.0,
        "low_workers": 1,
        "off_workers": 2,
        "ok_workers": 27,
        "dis_workers": 0,
        "current_balance": "0.04500000",
        "today_reward": "0.00321000",
        "estimated_reward": "0.00710000",
        "shares_5m": 120,
        "shares_60m": 1400,
        "shares_24h": 33000,
        "shares_yesterday": 32000,
    },
}
BRAIINS_WORKERS = {
    "btc": {
        "workers": {
            "acme.rig01": {
                "state": "ok",
                "last_share": 1542103204,
                "hash_rate_unit": "Gh/s",
                "hash_rate_5m": 14977,
                "hash_rate_60m": 15302,
                "hash_rate_24h": 15351,
                "shares_5m": 90304,
                "shares_60m": 1125762,
                "shares_24h": 20945364,
            },
            "acme.rig02": {
                "state": "off",
                "last_share": 1542003204,
                "hash_rate_unit": "Gh/s",
                "hash_rate_5m": 0,
                "hash_rate_60m": 0,
                "hash_rate_24h": 9000,
                "shares_5m": 0,
                "shares_60m": 0,
                "shares_24h": 100,
            },
        }
    }
}
VIABTC_HASHRATE = {
    "code": 0,
    "data": {
        "coin": "BTC",
        "hashrate_10min": "505775348776000",
        "hashrate_1hour": "500000000000000",
        "hashrate_24hour": "498000000000000",
        "reject_rate": "0.0021",
        "active_workers": 36,
        "unactive_workers": 2,
    },
    "message": "OK",
}

Route = Callable[[str, dict[str, list[str]], dict[str, str], bytes], tuple[int, Any]]


class FakeJsonServer:
    """Serves ``routes[path](method, query, headers, body) -> (status, doc)``."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append((method, self.path, headers))
                route = fake.routes.get(parts.path)
                status, doc = (
                    route(method, parse_qs(parts.query), headers, body)
                    if route
                    else (404, {"error": "not found"})
                )
                data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", doc.decode() if isinstance(doc, bytes) else "/")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeJsonServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def braiins_routes() -> dict[str, Route]:
    def guarded(doc):
        def route(method, query, headers, body):
            if headers.get("slushpool-auth-token") != BRAIINS_TOKEN:
                return 401, {"detail": "Invalid token"}
            return 200, doc

        return route

    return {
        "/accounts/profile/json/btc/": guarded(BRAIINS_PROFILE),
        "/accounts/workers/json/btc/": guarded(BRAIINS_WORKERS),
    }


def viabtc_routes() -> dict[str, Route]:
    def route(method, query, headers, body):
        if headers.get("x-api-key") != VIABTC_KEY:
            return 200, {"code": 1, "data": {}, "message": "invalid api key"}
        if query.get("coin") != ["BTC"]:
            return 200, {"code": 2, "data": {}, "message": "invalid coin"}
        return 200, VIABTC_HASHRATE

    return {"/res/openapi/v1/hashrate": route}
