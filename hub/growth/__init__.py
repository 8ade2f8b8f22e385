"""Pieces the growth loops share: versioned editable documents, signed links, the outbox
helper, Salesforce work for reps, public-endpoint rate limits and Stripe event routing."""
