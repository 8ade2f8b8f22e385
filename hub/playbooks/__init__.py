"""Playbooks: declarative customer-success automation, evaluated per account, acting through
the outbox and the channels.

Public interfaces (what other capabilities build on):

- **Queue a message** (delivered at most once per idempotency key, with the guards of the
  dispatcher: unsubscribe, quiet hours, retries with backoff)::

      from hub.playbooks.outbox import OutgoingMessage, enqueue, enqueue_many
      enqueue(session, OutgoingMessage(channel="email", account_id=..., contact_id=...,
                                       playbook_key="referral", step_key="invite",
                                       occurrence="2026-Q3", template="referral_invite"))

- **Send through a channel**: ``integrations.channels`` (``channel_types()``, ``get(name)``,
  ``build(name, settings, context)``, ``describe(...)``); one adapter per system behind
  ``integrations.channels.base.Channel``. Dispatch: ``hub.playbooks.dispatch.dispatch_due``.
- **Add a trigger**: ``hub.playbooks.triggers.register(TriggerType(name, doc, parse, fire,
  needs))``. **Add a condition**: ``hub.playbooks.conditions.register(ConditionType(...))``.
  **Add a step action**: ``hub.playbooks.schema.register_action(name, schema)`` plus
  ``hub.playbooks.journey.STEP_EXECUTORS[name] = executor``.
- **Evaluate**: ``hub.playbooks.engine.evaluate(session, now=..., account_ids=...)``; the jobs
  ``jobs.playbooks.evaluate_all`` / ``dispatch_due`` take ``as_of`` (ISO) for time travel.
- **Load and save playbooks**: ``hub.playbooks.loader`` (defaults in ``defaults/*.yaml``,
  versions in ``PlaybookVersion``); validation with line numbers: ``schema.parse_playbook``.
- **Outcomes**: ``hub.playbooks.outcomes.report`` (measured success beside targets).

Modules: ``schema`` (marshmallow validation), ``yaml_marks`` (line numbers for errors),
``compiler`` (validated data -> ``definition.Playbook``), ``conditions`` and
``condition_types``, ``triggers`` and ``trigger_signals``, ``facts``/``queries`` (what is
known about an account, loaded in bulk per chunk), ``guards``, ``milestones`` (and lifecycle
stages), ``journey`` (advancing an enrolment), ``recipients``, ``engine`` (a chunk of
accounts), ``report``, ``outbox``/``dispatch`` (at-most-once delivery), ``outcomes``,
``loader``, ``durations``.
"""
