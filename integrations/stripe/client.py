"""The Stripe client: auth from the ``stripe`` integration settings, retries, error mapping.

Everything goes through the official ``stripe`` library (``StripeClient``, no global state).
``STRIPE_API_BASE`` points it at another host (a fake in tests). Every write takes an
idempotency key; Stripe replays the first answer for a repeated key, so a retried job never
creates a second object. Errors come out classified (``integrations.errors``): 429, 5xx and
connection failures are retriable, any other 4xx is fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import stripe
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from hub.config import Config
from hub.settings import IntegrationSpec, effective, register
from integrations.errors import FatalError, IntegrationError, RetriableError, classify_http

T = TypeVar("T")

DEFAULT_API_BASE = "https://api.stripe.com"


class StripeSettingsSchema(Schema):
    api_key = fields.Str(required=True, validate=validate.Regexp(r"^(sk|rk)_(test|live)_\S+$"))
    api_base = fields.Url(load_default=DEFAULT_API_BASE, require_tld=False)


def _from_config(config: Config) -> dict[str, Any]:
    return {"api_key": config.stripe_api_key, "api_base": config.stripe_api_base}


class StripeGateway:
    """The operations cshub needs from Stripe, each one classified on failure."""

    def __init__(
        self,
        api_key: str,
        api_base: str = DEFAULT_API_BASE,
        *,
        max_network_retries: int = 2,
        timeout: float = 30,
    ) -> None:
        if not api_key:
            raise FatalError("Stripe is not configured (STRIPE_API_KEY)", code="not_configured")
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    # -- error mapping -------------------------------------------------------------------
    @staticmethod
    def call(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one Stripe call; raise a classified ``IntegrationError`` on failure."""
        try:
            return func(*args, **kwargs)
        except stripe.APIConnectionError as exc:
            raise RetriableError(f"Stripe unreachable: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            raise classify_stripe_error(exc) from exc

    # -- customers -----------------------------------------------------------------------
    def customer(self, customer_id: str) -> dict[str, Any]:
        return _plain(self.call(self.client.v1.customers.retrieve, customer_id))

    def card_fingerprints(self, customer_id: str) -> set[str]:
        """Fingerprints of the customer's saved cards (the same card has the same one)."""
        try:
            methods = self.call(
                self.client.v1.customers.payment_methods.list,
                customer_id,
                {"type": "card", "limit": 100},
            )
        except FatalError as exc:
            if exc.code == "resource_missing":  # a deleted customer holds no cards
                return set()
            raise
        out = set()
        for method in methods.auto_paging_iter():
            card = _plain(method).get("card") or {}
            if card.get("fingerprint"):
                out.add(card["fingerprint"])
        return out

    def charge(self, charge_id: str) -> dict[str, Any]:
        return _plain(self.call(self.client.v1.charges.retrieve, charge_id))

    # -- customer balance ----------------------------------------------------------------
    def credit_balance(
        self,
        customer_id: str,
        amount_cents: int,
        currency: str,
        *,
        idempotency_key: str,
        description: str,
        metadata: dict[str, str],
    ) -> dict[str, Any]:
        """Credit the customer's balance: a NEGATIVE balance transaction, once per key."""
        if amount_cents <= 0:
            raise FatalError("a credit must be a positive amount", code="bad_amount")
        params = {
            "amount": -int(amount_cents),
            "currency": currency.lower(),
            "description": description,
            "metadata": metadata,
        }
        return _plain(
            self.call(
                self.client.v1.customers.balance_transactions.create,
                customer_id,
                params,
                {"idempotency_key": idempotency_key},
            )
        )

    def balance_transactions(self, customer_id: str) -> Iterator[dict[str, Any]]:
        listing = self.call(
            self.client.v1.customers.balance_transactions.list, customer_id, {"limit": 100}
        )
        for item in listing.auto_paging_iter():
            yield _plain(item)

    def find_balance_transaction(self, customer_id: str, ledger_key: str) -> dict[str, Any] | None:
        """The balance transaction cshub made for ``ledger_key`` (metadata), if any."""
        for item in self.balance_transactions(customer_id):
            if (item.get("metadata") or {}).get("cshub_ledger_key") == ledger_key:
                return item
        return None

    # -- coupons and promotion codes -----------------------------------------------------
    def ensure_coupon(self, coupon_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Create the coupon with a fixed id, or fetch it if it exists already."""
        try:
            return _plain(
                self.call(
                    self.client.v1.coupons.create,
                    {"id": coupon_id, **params},
                    {"idempotency_key": f"coupon-{coupon_id}"},
                )
            )
        except FatalError as exc:
            if exc.code != "resource_already_exists":
                raise
        return _plain(self.call(self.client.v1.coupons.retrieve, coupon_id))

    def ensure_promotion_code(
        self,
        code: str,
        coupon_id: str,
        *,
        customer_id: str | None,
        idempotency_key: str,
        metadata: dict[str, str],
        max_redemptions: int = 1,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        """A customer-facing code for ``coupon_id``; an existing active one is reused."""
        params: dict[str, Any] = {
            "code": code,
            "promotion": {"type": "coupon", "coupon": coupon_id},
            "max_redemptions": max_redemptions,
            "metadata": metadata,
        }
        if customer_id:
            params["customer"] = customer_id
        if expires_at:
            params["expires_at"] = expires_at
        try:
            return _plain(
                self.call(
                    self.client.v1.promotion_codes.create,
                    params,
                    {"idempotency_key": idempotency_key},
                )
            )
        except FatalError as exc:
            if exc.status != 400 or "exists" not in str(exc).lower():
                raise
        found = self.call(self.client.v1.promotion_codes.list, {"code": code, "limit": 1})
        items = [_plain(item) for item in found.data]
        if not items:
            raise FatalError(f"promotion code {code} exists but cannot be listed", status=400)
        return items[0]

    # -- connection check ----------------------------------------------------------------
    def check(self) -> dict[str, Any]:
        balance = _plain(self.call(self.client.v1.balance.retrieve))
        return {"livemode": balance.get("livemode"), "object": balance.get("object")}


def classify_stripe_error(exc: stripe.StripeError) -> IntegrationError:
    """One Stripe error as a classified integration error (code kept for callers)."""
    status = exc.http_status or 0
    code = exc.code or (exc.error.type if exc.error is not None else None)
    message = f"Stripe {status}: {exc.user_message or exc}"
    if isinstance(exc, stripe.IdempotencyError):
        return FatalError(message, status=status, code="idempotency_error")
    retry_after = None
    headers = exc.headers or {}
    if headers.get("retry-after"):
        try:
            retry_after = float(headers["retry-after"])
        except ValueError:
            retry_after = None
    if not status:
        return RetriableError(message, code=code)
    return classify_http(status, message, code=code, retry_after=retry_after)


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject as plain dicts and lists."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return dict(obj)


def gateway_for(session: Session, config: Config, **options: Any) -> StripeGateway:
    """A gateway with the settings in force (stored ones win over the environment)."""
    values = effective(session, SPEC, config)
    return StripeGateway(
        values.get("api_key", ""), values.get("api_base") or DEFAULT_API_BASE, **options
    )


def _check(values: dict[str, Any]) -> dict[str, Any]:
    gateway = StripeGateway(values.get("api_key", ""), values.get("api_base") or DEFAULT_API_BASE)
    return gateway.check()


SPEC = register(
    IntegrationSpec(
        name="stripe",
        schema=StripeSettingsSchema,
        secret_keys=frozenset({"api_key"}),
        from_config=_from_config,
        check=_check,
        description="Stripe: referral rewards (balance credits, coupons) and payment facts",
    )
)
