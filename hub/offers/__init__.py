"""Upsell, cross-sell and service offers: rules over account facts, made once per window,
tracked from offer to acceptance (detected from Stripe subscription changes)."""
