"""Stripe: the one client module (auth, retries, error mapping) and its integration spec."""

from integrations.stripe.client import SPEC, StripeGateway, gateway_for

__all__ = ["SPEC", "StripeGateway", "gateway_for"]
