"""What inbound webhook events mean for the hub's accounts, applied by ``jobs.inbox.process``.

One module per source maps a stored delivery (``InboxEvent``) into domain state inside the
processing transaction: ``stripe`` (subscriptions and invoices -> plan, MRR, status, renewal
date, churn, ``SubscriptionChange`` and ``Event`` rows), ``mixpanel`` (cohort sync -> contact
and account ``cohorts``), ``salesforce`` (Outbound Message notifications -> fields applied and
a record pull enqueued), ``events`` (product events and rig/portfolio metrics -> ``Event`` and
``MetricSample`` rows). ``inbox`` runs the claim / apply / retry / sweep state machine.

Extending: other capabilities react to the same processed events without editing these
modules, through ``hub.ingest.hooks``::

    from hub.ingest import hooks

    @hooks.on("stripe", "invoice.paid")          # or hooks.subscribe(source, type, fn)
    def on_invoice_paid(ctx: hooks.HookContext) -> None:
        invoice = ctx.event["data"]["object"]
        ...  # write through ctx.session; ctx.account is the matched Account or None
        ctx.enqueue_after_commit("jobs.growth.grant_reward", ctx.account.id)

and append the subscribing module to ``hooks.HOOK_MODULES``. Sources are ``stripe`` (types
are Stripe event types, e.g. ``charge.dispute.created``), ``mixpanel`` (the cohort action),
``salesforce`` (the sObject name) and ``events`` (the product event type); ``"*"`` matches
every type of a source. Hooks run in the same transaction as the built-in mapping, so they
take effect exactly once per event; an exception rolls the event back for a retry. An event
type that only a hook handles is processed, not ignored.
"""
