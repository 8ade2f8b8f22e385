"""A local fake of Kraken's REST API (the parts a read-only portfolio reader uses).

Enforces Kraken's rules for private calls: ``API-Key`` must be known, ``API-Sign`` must be
``base64(HMAC-SHA512(path + SHA256(nonce + body), base64decode(secret)))``, and the nonce must
grow for each key; errors come back as HTTP 200 with ``{"error": ["EAPI:..."]}`` like the real
API. Public: ``AssetPairs``, ``Assets``, ``Ticker``. Private: ``BalanceEx``, ``TradesHistory``
(``start`` exclusive), ``OpenPositions``. ``fail_with`` makes the next answers an HTTP error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAIRS = {
    "XXBTZUSD": ("XXBT", "ZUSD", "XBTUSD", "XBT/USD"),
    "XETHZUSD": ("XETH", "ZUSD", "ETHUSD", "ETH/USD"),
}
ASSETS = {"XXBT": "XBT", "XETH": "ETH", "ZUSD": "USD"}


def _pair(pair_id: str) -> dict[str, Any]:
    base, quote, altname, wsname = PAIRS[pair_id]
    return {
        "altname": altname,
        "wsname": wsname,
        "aclass_base": "currency",
        "base": base,
        "aclass_quote": "currency",
        "quote": quote,
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": 1,
        "lot_decimals": 8,
        "lot_multiplier": 1,
        "leverage_buy": [2, 3],
        "leverage_sell": [2, 3],
        "fees": [[0, 0.26]],
        "fees_maker": [[0, 0.16]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": "0.0001",
        "costmin": "0.5",
        "tick_size": "0.1",
        "status": "online",
    }


class FakeKraken:
    def __init__(self, key: str = "ro-key", secret_raw: bytes = b"kraken-secret-bytes") -> None:
        self.key = key
        self.secret = base64.b64encode(secret_raw).decode()
        self.balances: dict[str, str] = {"ZUSD": "10000.0000", "XXBT": "0.5000000000"}
        self.prices: dict[str, str] = {"XXBTZUSD": "50000.0", "XETHZUSD": "3000.0"}
        self.trades: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.fail_with: list[int] = []
        self.rate_limited = 0
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeKraken:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_trade(self, txid: str, pair: str, side: str, vol: str, price: str, fee: str, t: float):
        cost = f"{float(vol) * float(price):.5f}"
        self.trades[txid] = {
            "ordertxid": f"O-{txid}",
            "postxid": f"P-{txid}",
            "pair": pair,
            "time": t,
            "type": side,
            "ordertype": "limit",
            "price": price,
            "cost": cost,
            "fee": fee,
            "vol": vol,
            "margin": "0.00000",
            "misc": "",
            "maker": False,
        }

    def _signature_ok(self, path: str, body: bytes, sign: str) -> bool:
        nonce = parse_qs(body.decode()).get("nonce", [""])[0]
        digest = hashlib.sha256(nonce.encode() + body).digest()
        mac = hmac.new(base64.b64decode(self.secret), path.encode() + digest, hashlib.sha512)
        return hmac.compare_digest(base64.b64encode(mac.digest()).decode(), sign)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, doc: Any) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _maybe_fail(self) -> bool:
                with fake._lock:
                    if fake.fail_with:
                        status = fake.fail_with.pop(0)
                        self._send(status, {"error": [f"HTTP {status}"]})
                        return True
                return False

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.calls.append(parts.path)
                if self._maybe_fail():
                    return
                if parts.path == "/0/public/AssetPairs":
                    return self._send(200, {"error": [], "result": {p: _pair(p) for p in PAIRS}})
                if parts.path == "/0/public/Assets":
                    result = {
                        code: {
                            "aclass": "currency",
                            "altname": alt,
                            "decimals": 10,
                            "display_decimals": 5,
                            "status": "enabled",
                        }
                        for code, alt in ASSETS.items()
                    }
                    return self._send(200, {"error": [], "result": result})
                if parts.path == "/0/public/Ticker":
                    wanted = parse_qs(parts.query).get("pair", [",".join(PAIRS)])[0].split(",")
                    result = {}
                    for pair in wanted:
                        if pair not in fake.prices:
                            return self._send(200, {"error": ["EQuery:Unknown asset pair"]})
                        p = fake.prices[pair]
                        result[pair] = {
                            "a": [p, "1", "1.000"],
                            "b": [p, "1", "1.000"],
                            "c": [p, "0.001"],
                            "v": ["10", "20"],
                            "p": [p, p],
                            "t": [5, 9],
                            "l": [p, p],
                            "h": [p, p],
                            "o": p,
                        }
                    return self._send(200, {"error": [], "result": result})
                self._send(404, {"error": ["EGeneral:Unknown method"]})

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                fake.calls.append(parts.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self._maybe_fail():
                    return
                if not parts.path.startswith("/0/private/"):
                    return self._send(404, {"error": ["EGeneral:Unknown method"]})
                key = self.headers.get("API-Key", "")
                if key != fake.key:
                    return self._send(200, {"error": ["EAPI:Invalid key"]})
                if not fake._signature_ok(parts.path, body, self.headers.get("API-Sign", "")):
                    return self._send(200, {"error": ["EAPI:Invalid signature"]})
                params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                with fake._lock:
                    nonce = int(params.get("nonce", "0"))
                    if nonce <= fake._nonces.get(key, 0):
                        return self._send(200, {"error": ["EAPI:Invalid nonce"]})
                    fake._nonces[key] = nonce
                    if fake.rate_limited:
                        fake.rate_limited -= 1
                        return self._send(200, {"error": ["EAPI:Rate limit exceeded"]})
                method = parts.path.rsplit("/", 1)[-1]
                if method == "BalanceEx":
                    result = {
                        c: {"balance": b, "hold_trade": "0.0000"} for c, b in fake.balances.items()
                    }
                    return self._send(200, {"error": [], "result": result})
                if method == "TradesHistory":
                    start = float(params.get("start", "0"))
                    trades = {txid: t for txid, t in fake.trades.items() if t["time"] > start}
                    return self._send(
                        200, {"error": [], "result": {"trades": trades, "count": len(trades)}}
                    )
                if method == "OpenPositions":
                    empty: Any = [] if params.get("consolidation") else {}
                    return self._send(200, {"error": [], "result": empty})
                if method in ("AddOrder", "Withdraw", "CancelOrder"):
                    return self._send(200, {"error": ["EGeneral:Permission denied"]})
                self._send(200, {"error": ["EGeneral:Unknown method"]})

        return Handler
