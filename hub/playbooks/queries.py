"""Bulk loading of ``AccountFacts`` for a chunk of account ids (a handful of grouped queries
per chunk, never one per account). Windows of daily metrics are reduced in SQL so only one row
per account and metric comes back; they read the scoring job's daily roll-ups when these cover
the windows (``rollup_config``), else the raw events and samples.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from hub import scoring_config, scoring_rollup
from hub.models import (
    Account,
    ChurnPrediction,
    Contact,
    Event,
    EventDaily,
    HealthScore,
    JourneyEnrolment,
    MetricDaily,
    MetricSample,
    Milestone,
    OutboxMessage,
    SurveyResponse,
)
from hub.playbooks.facts import (
    USAGE,
    USAGE_EVENTS,
    AccountFacts,
    ContactFacts,
    MetricStats,
    MetricWindow,
    Needs,
    NpsAnswer,
    Score,
)
from hub.playbooks.guards import PastEnrolment
from hub.scoring_sql import event_names as rolled_up_events
from hub.scoring_sql import metric_days
from scoring.config import FeatureConfig
from scoring.frames import epoch_day

CUSTOMER_CHANNELS = ("email", "sms", "inapp")


def day_of(session: Session, column):
    """The UTC calendar day of a timestamp column, as a value comparable with a date."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _day_param(session: Session, day: date):
    return day if session.get_bind().dialect.name == "postgresql" else day.isoformat()


def account_ranges(session: Session, chunk_size: int, only: list[int] | None = None):
    """(first id, last id) ranges covering the live accounts, ``chunk_size`` accounts each."""
    stmt = select(Account.id).where(Account.deleted_at.is_(None)).order_by(Account.id)
    if only is not None:
        stmt = stmt.where(Account.id.in_(only))
    ids = list(session.scalars(stmt))
    return [
        (ids[i], ids[min(i + chunk_size, len(ids)) - 1]) for i in range(0, len(ids), chunk_size)
    ]


def rollup_config(session: Session, needs: Needs, now: datetime) -> FeatureConfig | None:
    """The active scoring features configuration when its daily roll-ups are complete for
    every day of the metric windows in ``needs`` (whole days before today), else None.

    Read once per evaluation; windows of metrics the configuration does not roll up are
    still read from the raw rows (``rolled_up``)."""
    if not needs.metrics:
        return None
    config = scoring_config.active_config(session).features
    if not any(rolled_up(window, config) for window in needs.metrics):
        return None
    today = epoch_day(now)
    first = today - max(w.recent_days + w.baseline_days for w in needs.metrics)
    return config if scoring_rollup.covers(session.connection(), config, first, today) else None


def rolled_up(window: MetricWindow, config: FeatureConfig | None) -> bool:
    """Whether the roll-ups of ``config`` hold the daily values of ``window``'s metric."""
    if config is None:
        return False
    if window.metric == USAGE:
        return set(USAGE_EVENTS) <= set(rolled_up_events(config))
    return window.metric in config.metrics.values()


def load_facts(
    session: Session,
    lo: int,
    hi: int,
    now: datetime,
    needs: Needs,
    cap_days: int,
    only: list[int] | None = None,
    rollups: FeatureConfig | None = None,
) -> tuple[dict[int, AccountFacts], dict[int, list[JourneyEnrolment]]]:
    """Facts of the accounts with ids in [lo, hi], and their enrolment rows.

    ``rollups``: a configuration from ``rollup_config`` (metric windows read the roll-ups)."""
    in_range = and_(Account.id >= lo, Account.id <= hi, Account.deleted_at.is_(None))
    if only is not None:
        in_range = and_(in_range, Account.id.in_(only))
    facts: dict[int, AccountFacts] = {}
    for row in session.execute(
        select(
            Account.id,
            Account.name,
            Account.segment,
            Account.lifecycle_stage,
            Account.status,
            Account.plan,
            Account.mrr,
            Account.attributes,
            Account.cohorts,
            Account.signup_date,
            Account.renewal_date,
            Account.churned_at,
            Account.timezone,
            Account.snoozed_until,
            Account.owner_email,
        ).where(in_range)
    ):
        facts[row.id] = AccountFacts(
            id=row.id,
            name=row.name,
            segment=row.segment,
            lifecycle_stage=row.lifecycle_stage,
            status=row.status,
            plan=row.plan,
            mrr=row.mrr or 0.0,
            attributes=row.attributes or {},
            cohorts=row.cohorts or [],
            signup_date=row.signup_date,
            renewal_date=row.renewal_date,
            churned_at=row.churned_at,
            timezone=row.timezone,
            snoozed_until=row.snoozed_until,
            owner_email=row.owner_email,
        )
    if not facts:
        return facts, {}
    span = (Contact.account_id >= lo, Contact.account_id <= hi)
    for c in session.execute(
        select(
            Contact.id,
            Contact.account_id,
            Contact.email,
            Contact.phone,
            Contact.name,
            Contact.role,
            Contact.timezone,
            Contact.unsubscribed,
            Contact.cohorts,
            Contact.slack_user_id,
        )
        .where(*span, Contact.deleted_at.is_(None))
        .order_by(Contact.id)
    ):
        if c.account_id in facts:
            facts[c.account_id].contacts.append(
                ContactFacts(
                    c.id,
                    c.email,
                    c.phone,
                    c.name,
                    c.role,
                    c.timezone,
                    c.unsubscribed or [],
                    c.cohorts or [],
                    c.slack_user_id,
                )
            )
    for m in session.execute(
        select(Milestone.account_id, Milestone.key, Milestone.reached_at).where(
            Milestone.account_id >= lo, Milestone.account_id <= hi, Milestone.reached_at <= now
        )
    ):
        if m.account_id in facts:
            facts[m.account_id].milestones[m.key] = m.reached_at
    _latest_two(
        session,
        HealthScore,
        HealthScore.score,
        HealthScore.tier,
        HealthScore.computed_at,
        now,
        facts,
        "health",
    )
    _latest_two(
        session,
        ChurnPrediction,
        ChurnPrediction.probability,
        ChurnPrediction.segment,
        ChurnPrediction.predicted_at,
        now,
        facts,
        "churn",
    )
    if needs.nps_days:
        for r in session.execute(
            select(
                SurveyResponse.id,
                SurveyResponse.account_id,
                SurveyResponse.score,
                SurveyResponse.answered_at,
                SurveyResponse.contact_id,
            )
            .where(
                SurveyResponse.account_id >= lo,
                SurveyResponse.account_id <= hi,
                SurveyResponse.kind == "nps",
                SurveyResponse.answered_at > now - timedelta(days=needs.nps_days),
                SurveyResponse.answered_at <= now,
            )
            .order_by(SurveyResponse.answered_at.desc(), SurveyResponse.id.desc())
        ):
            if r.account_id in facts:
                facts[r.account_id].nps.append(
                    NpsAnswer(r.id, r.score, r.answered_at, r.contact_id)
                )
    ids = sorted(facts)
    _events(session, ids, now, needs, facts)
    if needs.feature_days:
        feature = Event.properties["feature"].as_string()
        for r in session.execute(
            select(Event.account_id, feature.label("feature"), func.max(Event.occurred_at))
            .where(
                Event.account_id.in_(ids),
                Event.name == "feature_used",
                Event.occurred_at > now - timedelta(days=needs.feature_days),
                Event.occurred_at <= now,
            )
            .group_by(Event.account_id, feature)
        ):
            if r[0] in facts and r[1]:
                facts[r[0]].features[r[1]] = _aware(r[2])
    raw = [w for w in needs.metrics if w.metric != USAGE and not rolled_up(w, rollups)]
    config = (rollups or scoring_config.active_config(session).features) if raw else None
    summed = config.summed_metrics if config else ()
    for window in needs.metrics:
        _metric(session, window, ids, now, facts, rolled_up(window, rollups), summed)
    enrolments: dict[int, list[JourneyEnrolment]] = defaultdict(list)
    for e in session.scalars(
        select(JourneyEnrolment)
        .where(JourneyEnrolment.account_id >= lo, JourneyEnrolment.account_id <= hi)
        .order_by(JourneyEnrolment.id)
    ):
        if e.account_id not in facts:
            continue
        enrolments[e.account_id].append(e)
        facts[e.account_id].enrolments.setdefault(e.playbook_key, []).append(
            PastEnrolment(e.occurrence, e.status, e.enrolled_at, e.trigger_ref)
        )
    if cap_days:
        for r in session.execute(
            select(
                OutboxMessage.account_id,
                OutboxMessage.contact_id,
                OutboxMessage.channel,
                OutboxMessage.created_at,
            ).where(
                OutboxMessage.account_id >= lo,
                OutboxMessage.account_id <= hi,
                OutboxMessage.contact_id.is_not(None),
                OutboxMessage.channel.in_(CUSTOMER_CHANNELS),
                OutboxMessage.status.in_(("pending", "sending", "sent")),
                OutboxMessage.created_at > now - timedelta(days=cap_days),
            )
        ):
            if r.account_id in facts:
                facts[r.account_id].sent.setdefault(r.contact_id, []).append(
                    (r.channel, r.created_at)
                )
    return facts, enrolments


def _aware(value: Any) -> Any:
    if isinstance(value, str):  # SQLite aggregate over a UTCDateTime comes back raw
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


def _latest_two(session, model, value_col, label_col, at_col, now, facts, attr) -> None:
    """The two newest rows of ``model`` as of ``now`` per account, newest first: two seeks of
    the (account, time) index per account, whatever the length of the history (a window
    over the history reads every row of it, and scoring adds one a day)."""

    def newest(offset: int):
        return (
            select(model.id)
            .where(model.account_id == Account.id, at_col <= now)
            .order_by(at_col.desc(), model.id.desc())
            .limit(1)
            .offset(offset)
            .scalar_subquery()
        )

    accounts = Account.id.in_(sorted(facts))
    newest_two = union_all(
        select(newest(0)).where(accounts), select(newest(1)).where(accounts)
    ).subquery()
    for r in session.execute(
        select(model.id, model.account_id, value_col, label_col, at_col)
        .where(model.id.in_(select(newest_two)))
        .order_by(model.account_id, at_col.desc(), model.id.desc())
    ):
        getattr(facts[r[1]], attr).append(Score(r[0], float(r[2]), r[3], _aware(r[4])))


def _events(session, ids: list[int], now, needs: Needs, facts) -> None:
    """The last time of each needed event, one grouped query per distinct look-back."""
    by_lookback: dict[timedelta, list[str]] = defaultdict(list)
    for name, lookback in needs.events.items():
        by_lookback[lookback].append(name)
    for lookback, event_names in by_lookback.items():
        for r in session.execute(
            select(Event.account_id, Event.name, func.max(Event.occurred_at))
            .where(
                Event.account_id.in_(ids),
                Event.name.in_(sorted(event_names)),
                Event.occurred_at > now - lookback,
                Event.occurred_at <= now,
            )
            .group_by(Event.account_id, Event.name)
        ):
            if r[0] in facts:
                facts[r[0]].events[r[1]] = _aware(r[2])


def _metric(
    session,
    window: MetricWindow,
    ids: list[int],
    now,
    facts,
    from_rollups: bool = False,
    summed: Collection[str] = (),
) -> None:
    """Per account: baseline and recent stats of one metric over whole UTC days before today.
    ``summed``: the metrics whose day value is the sum of their parts (``metric_days``)."""
    today = now.date()
    recent_start = today - timedelta(days=window.recent_days)
    base_start = recent_start - timedelta(days=window.baseline_days)
    start_at = datetime.combine(base_start, datetime.min.time(), tzinfo=now.tzinfo)
    end_at = datetime.combine(today, datetime.min.time(), tzinfo=now.tzinfo)
    rs = _day_param(session, recent_start)
    if from_rollups:
        daily = _daily_rollup(window, ids, epoch_day(base_start), epoch_day(today))
        rs = epoch_day(recent_start)
    elif window.metric == USAGE:
        day = day_of(session, Event.occurred_at)
        daily = (
            select(Event.account_id.label("a"), day.label("d"), func.count().label("v"))
            .where(
                Event.account_id.in_(ids),
                Event.name.in_(USAGE_EVENTS),
                Event.occurred_at >= start_at,
                Event.occurred_at < end_at,
            )
            .group_by(Event.account_id, day)
            .subquery()
        )
    else:  # day values as the roll-up has them (an account total summed over its parts)
        days = metric_days(
            session.get_bind().dialect.name,
            summed,
            MetricSample.account_id.in_(ids),
            MetricSample.metric == window.metric,
            MetricSample.measured_at >= start_at,
            MetricSample.measured_at < end_at,
        ).c
        daily = select(
            days.account_id.label("a"), days.day.label("d"), (days.total / days.n).label("v")
        ).subquery()
        rs = epoch_day(recent_start)
    recent = daily.c.d >= rs
    stmt = select(
        daily.c.a,
        func.sum(case((~recent, daily.c.v), else_=literal_column("0"))),
        func.count(case((~recent, 1))),
        func.max(case((recent, daily.c.v))),
        func.min(case((recent, daily.c.v))),
        func.sum(case((recent, daily.c.v), else_=literal_column("0"))),
        func.count(case((recent, 1))),
    ).group_by(daily.c.a)
    for a, base_sum, base_n, r_max, r_min, r_sum, r_n in session.execute(stmt):
        f = facts.get(a)
        if f is None:
            continue
        if window.metric == USAGE:  # a day without events is a day of zero use
            if f.signup_date is None or f.signup_date > base_start:
                continue
            stats = MetricStats(
                baseline=float(base_sum) / window.baseline_days,
                recent_max=float(r_max or 0),
                recent_min=float(r_min or 0) if r_n == window.recent_days else 0.0,
                recent_mean=float(r_sum or 0) / window.recent_days,
                recent_days=window.recent_days,
            )
        else:
            stats = MetricStats(
                baseline=float(base_sum) / base_n if base_n else None,
                recent_max=float(r_max) if r_max is not None else None,
                recent_min=float(r_min) if r_min is not None else None,
                recent_mean=float(r_sum) / r_n if r_n else None,
                recent_days=int(r_n or 0),
            )
        f.metrics[window] = stats
    if window.metric == USAGE:  # accounts with no use at all in the whole window
        for f in facts.values():
            if window not in f.metrics and f.signup_date and f.signup_date <= base_start:
                f.metrics[window] = MetricStats(0.0, 0.0, 0.0, 0.0, window.recent_days)


def _daily_rollup(window: MetricWindow, ids: list[int], first: int, end: int):
    """Daily values (a: account, d: epoch day, v) of days ``[first, end)`` from the roll-ups:
    the count of usage events, or the metric's day value (``metric_days``)."""
    if window.metric == USAGE:
        return (
            select(
                EventDaily.account_id.label("a"),
                EventDaily.day.label("d"),
                func.sum(EventDaily.count).label("v"),
            )
            .where(
                EventDaily.account_id.in_(ids),
                EventDaily.name.in_(USAGE_EVENTS),
                EventDaily.day >= first,
                EventDaily.day < end,
            )
            .group_by(EventDaily.account_id, EventDaily.day)
            .subquery()
        )
    return (
        select(
            MetricDaily.account_id.label("a"),
            MetricDaily.day.label("d"),
            (MetricDaily.total / MetricDaily.n).label("v"),
        )
        .where(
            MetricDaily.account_id.in_(ids),
            MetricDaily.metric == window.metric,
            MetricDaily.day >= first,
            MetricDaily.day < end,
        )
        .subquery()
    )
