"""Mixpanel both ways.

- ``export``: pull raw events (Raw Event Export API, streamed JSONL), incremental by day,
  deduplicated on Mixpanel's own key, mapped to accounts.
- ``push``: health score, tier, churn risk and segment onto user and group profiles (only
  when changed, in batches) and hub actions as events through ``/import``.
- ``settings``: the ``mixpanel`` integration spec (project, region, service account).
"""
