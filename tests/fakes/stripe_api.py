"""A stateful fake of the parts of the Stripe API cshub uses, mounted on ``responses``.

It enforces the rules the reward code depends on, as Stripe documents them:
- bearer auth with an ``sk_`` key (401 otherwise);
- form-encoded bodies with bracketed nesting (``metadata[k]=v``, ``promotion[coupon]=x``);
- idempotency: the first response to a key is saved and replayed for a repeat of the same
  request (header ``Idempotent-Replayed: true``); the same key with other parameters or on
  another endpoint is a 400 ``idempotency_error``;
- balance transactions need a non-zero integer ``amount`` and a ``currency`` and move the
  customer's ``balance`` (negative = credit);
- a coupon id is unique (400 ``resource_already_exists``); a promotion code needs an existing
  coupon and a code unique among active codes;
- unknown objects are 404 ``resource_missing``.
``fail_next`` makes the next matching calls fail (5xx) or drop the connection after the
server has done the work, to test retries.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses

BASE = "https://stripe.test"


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class FakeStripe:
    def __init__(self, mock: responses.RequestsMock, base: str = BASE) -> None:
        self.base = base
        self.customers: dict[str, dict[str, Any]] = {}
        self.balance_transactions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.payment_methods: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.coupons: dict[str, dict[str, Any]] = {}
        self.promotion_codes: list[dict[str, Any]] = []
        self.charges: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, dict[str, Any], int, dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, Any], str | None]] = []
        self._failures: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        pattern = re.compile(re.escape(base) + r"/v1/.*")
        for method in ("GET", "POST", "DELETE"):
            mock.add_callback(method, pattern, callback=self._handle)

    # -- set-up helpers -------------------------------------------------------------------
    def add_customer(self, cid: str, email: str, card_fingerprint: str | None = None) -> None:
        self.customers[cid] = {"id": cid, "object": "customer", "email": email, "balance": 0}
        if card_fingerprint:
            self.payment_methods[cid].append(
                {
                    "id": f"pm_{next(self._ids)}",
                    "object": "payment_method",
                    "type": "card",
                    "customer": cid,
                    "card": {"fingerprint": card_fingerprint, "last4": "4242"},
                }
            )

    def add_charge(self, charge_id: str, customer: str, amount: int = 10000) -> None:
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "customer": customer,
            "amount": amount,
        }

    def fail_next(self, path_regex: str, mode: str = "500", times: int = 1) -> None:
        """mode '500': answer 500 without doing anything; 'drop': do it, then drop."""
        self._failures.append({"re": re.compile(path_regex), "mode": mode, "left": times})

    def posts(self, path_regex: str) -> list[tuple[str, dict[str, Any], str | None]]:
        rx = re.compile(path_regex)
        return [(p, b, k) for m, p, b, k in self.requests if m == "POST" and rx.search(p)]

    # -- dispatch -------------------------------------------------------------------------
    def _handle(self, request: requests.PreparedRequest):
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer sk_"):
            return self._error(401, "invalid_request_error", None, "Invalid API Key provided")
        url = urlsplit(request.url)
        path = url.path
        query = _nest(parse_qsl(url.query))
        body = request.body or ""
        if isinstance(body, bytes):
            body = body.decode()
        params = _nest(parse_qsl(body)) if request.method == "POST" else query
        key = request.headers.get("Idempotency-Key")
        self.requests.append((request.method, path, params, key))
        failure = self._failure_for(path)
        if failure == "500":
            return self._error(500, "api_error", None, "Something went wrong on Stripe's end")
        if request.method == "POST" and key:
            saved = self.idempotency.get(key)
            if saved is not None:
                saved_path, saved_params, status, response = saved
                if failure == "drop":
                    raise requests.ConnectionError("connection reset by peer (replayed)")
                if saved_path != path or saved_params != params:
                    return self._error(
                        400,
                        "idempotency_error",
                        None,
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                    )
                return (
                    status,
                    {"Idempotent-Replayed": "true", "Request-Id": "req_r"},
                    json.dumps(response),
                )
        status, response = self._route(request.method, path, params)
        if request.method == "POST" and key and status < 500:
            self.idempotency[key] = (path, params, status, response)
        if failure == "drop":
            raise requests.ConnectionError("connection reset by peer (after processing)")
        return status, {"Request-Id": f"req_{next(self._ids)}"}, json.dumps(response)

    def _failure_for(self, path: str) -> str | None:
        for failure in self._failures:
            if failure["left"] > 0 and failure["re"].search(path):
                failure["left"] -= 1
                return failure["mode"]
        return None

    @staticmethod
    def _error(status: int, kind: str, code: str | None, message: str):
        body = {"error": {"type": kind, "message": message}}
        if code:
            body["error"]["code"] = code
        return status, {"Request-Id": "req_err"}, json.dumps(body)

    def _missing(self, what: str, ident: str):
        return (
            404,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such {what}: '{ident}'",
                }
            },
        )

    def _bad(self, message: str, code: str = "parameter_missing"):
        return 400, {"error": {"type": "invalid_request_error", "code": code, "message": message}}

    def _route(self, method: str, path: str, params: dict[str, Any]):
        m = re.fullmatch(r"/v1/customers/([^/]+)/balance_transactions", path)
        if m:
            return self._balance_transactions(method, m.group(1), params)
        m = re.fullmatch(r"/v1/customers/([^/]+)/payment_methods", path)
        if m and method == "GET":
            if m.group(1) not in self.customers:
                return self._missing("customer", m.group(1))
            return 200, self._list(self.payment_methods[m.group(1)], path)
        m = re.fullmatch(r"/v1/customers/([^/]+)", path)
        if m and method == "GET":
            found = self.customers.get(m.group(1))
            return (200, found) if found else self._missing("customer", m.group(1))
        m = re.fullmatch(r"/v1/charges/([^/]+)", path)
        if m and method == "GET":
            found = self.charges.get(m.group(1))
            return (200, found) if found else self._missing("charge", m.group(1))
        if path == "/v1/coupons" and method == "POST":
            return self._create_coupon(params)
        m = re.fullmatch(r"/v1/coupons/([^/]+)", path)
        if m and method == "GET":
            found = self.coupons.get(m.group(1))
            return (200, found) if found else self._missing("coupon", m.group(1))
        if path == "/v1/promotion_codes":
            if method == "POST":
                return self._create_promotion_code(params)
            code = params.get("code")
            items = [p for p in self.promotion_codes if code is None or p["code"] == code]
            return 200, self._list(items, path)
        if path == "/v1/balance" and method == "GET":
            return 200, {"object": "balance", "livemode": False, "available": []}
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {path}"}}

    @staticmethod
    def _list(items: list[dict[str, Any]], url: str) -> dict[str, Any]:
        return {"object": "list", "data": items, "has_more": False, "url": url}

    def _balance_transactions(self, method: str, cid: str, params: dict[str, Any]):
        customer = self.customers.get(cid)
        if customer is None:
            return self._missing("customer", cid)
        if method == "GET":
            items = sorted(self.balance_transactions[cid], key=lambda t: -t["created"])
            return 200, self._list(items, f"/v1/customers/{cid}/balance_transactions")
        if "amount" not in params or "currency" not in params:
            return self._bad("Missing required param: amount or currency.")
        try:
            amount = int(params["amount"])
        except ValueError:
            return self._bad("Invalid integer: amount", "parameter_invalid_integer")
        if amount == 0:
            return self._bad("Amount must be non-zero.", "parameter_invalid_integer")
        customer["balance"] += amount
        txn = {
            "id": f"cbtxn_{next(self._ids)}",
            "object": "customer_balance_transaction",
            "amount": amount,
            "currency": params["currency"],
            "customer": cid,
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "ending_balance": customer["balance"],
            "type": "adjustment",
            "created": int(time.time()),
            "livemode": False,
        }
        self.balance_transactions[cid].append(txn)
        return 200, txn

    def _create_coupon(self, params: dict[str, Any]):
        cid = params.get("id") or f"co_{next(self._ids)}"
        if cid in self.coupons:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_already_exists",
                    "message": "Coupon already exists.",
                }
            }
        if not params.get("percent_off") and not params.get("amount_off"):
            return self._bad("Must provide either percent_off or amount_off.")
        if params.get("duration") == "repeating" and not params.get("duration_in_months"):
            return self._bad("duration_in_months is required when duration is repeating.")
        coupon = {"id": cid, "object": "coupon", "valid": True, **params}
        self.coupons[cid] = coupon
        return 200, coupon

    def _create_promotion_code(self, params: dict[str, Any]):
        promotion = params.get("promotion") or {}
        coupon = promotion.get("coupon")
        if promotion.get("type") != "coupon" or not coupon:
            return self._bad("Missing required param: promotion.")
        if coupon not in self.coupons:
            return self._missing("coupon", coupon)
        code = params.get("code") or f"PROMO{next(self._ids)}"
        if any(p["code"].lower() == code.lower() and p["active"] for p in self.promotion_codes):
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_already_exists",
                    "message": f"An active promotion code with `code: {code}` already exists.",
                }
            }
        promo = {
            "id": f"promo_{next(self._ids)}",
            "object": "promotion_code",
            "code": code,
            "active": True,
            "customer": params.get("customer"),
            "max_redemptions": int(params["max_redemptions"])
            if params.get("max_redemptions")
            else None,
            "promotion": {"type": "coupon", "coupon": coupon},
            "metadata": params.get("metadata", {}),
        }
        self.promotion_codes.append(promo)
        return 200, promo
