"""Salesforce, both ways: pull the CRM incrementally, write scores back economically, open work.

- ``settings``: the ``salesforce`` integration (schema, env fallback, connection check)
- ``auth``: client credentials, JWT bearer, or a ready token, against a configurable login URL
- ``client``: the one client (simple-salesforce underneath): re-auth, retries, API limits
- ``pull``/``records``: incremental SOQL on SystemModstamp for Account, Contact, Opportunity, Case
- ``push``/``ledger``: changed score fields only, Collections for few, Bulk API 2.0 for many
- ``metadata``: ``cshub salesforce setup`` creates the Account score fields and grants access
- ``work``: Tasks, Cases and Opportunities, once per idempotency key
- ``mapping``: which Salesforce field feeds which hub field, and in which direction
- ``runner``: one run's client with the stored API-limit pause
"""
