"""Push: scores onto Mixpanel profiles, hub actions as Mixpanel events.

Profiles: each account's latest health score, tier, churn risk and churn segment are
``$set`` on the user profile of every contact with a Mixpanel distinct_id and, when a group
key is configured, on the account's group profile. A property goes out only when its value
(or the set of profiles it goes to) differs from what the ``PushLedger`` (destination
``mixpanel``) says was last confirmed; the ledger moves only after Mixpanel confirms the
batch that carried it.

Actions: messages sent, offers accepted and surveys answered go to ``/import`` as events
whose ``$insert_id`` is derived from the hub's own row id, so a retried or repeated push
is deduplicated by Mixpanel and never doubles an event.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from mixpanel import Mixpanel
from sqlalchemy import func, null, select
from sqlalchemy.orm import Session

from hub.models import (
    Account,
    ChurnPrediction,
    Contact,
    HealthScore,
    Offer,
    OutboxMessage,
    PushLedger,
    SurveyResponse,
    SyncState,
)
from integrations.errors import FatalError
from integrations.mixpanel.consumer import BatchConsumer
from integrations.mixpanel.settings import MixpanelSettings

DESTINATION = "mixpanel"
PROFILE_PROPERTIES = {
    "health_score": "cshub_health_score",
    "health_tier": "cshub_health_tier",
    "churn_risk": "cshub_churn_risk",
    "churn_segment": "cshub_churn_segment",
}
ACTIONS_STREAM = "mixpanel:actions"
ACTION_OVERLAP = timedelta(hours=1)
OFFER_ACCEPTED = ("accepted", "converted")


def latest_scores(session: Session) -> dict[int, dict[str, Any]]:
    """account_id -> {health_score, health_tier, churn_risk, churn_segment} (latest of each)."""
    out: dict[int, dict[str, Any]] = {}
    newest = (
        select(HealthScore.account_id, func.max(HealthScore.id).label("id"))
        .group_by(HealthScore.account_id)
        .subquery()
    )
    for account_id, score, tier in session.execute(
        select(HealthScore.account_id, HealthScore.score, HealthScore.tier).join(
            newest, HealthScore.id == newest.c.id
        )
    ):
        out.setdefault(account_id, {}).update(health_score=round(score, 1), health_tier=tier)
    newest_churn = (
        select(ChurnPrediction.account_id, func.max(ChurnPrediction.id).label("id"))
        .group_by(ChurnPrediction.account_id)
        .subquery()
    )
    for account_id, probability, segment in session.execute(
        select(
            ChurnPrediction.account_id, ChurnPrediction.probability, ChurnPrediction.segment
        ).join(newest_churn, ChurnPrediction.id == newest_churn.c.id)
    ):
        out.setdefault(account_id, {}).update(
            churn_risk=round(probability, 4), churn_segment=segment
        )
    return out


def _value_hash(value: Any, targets: list[str], group: str | None) -> str:
    return hashlib.sha256(orjson.dumps([value, targets, group])).hexdigest()


@dataclass
class _Pending:
    need: dict[str, int]
    account_id: int
    hashes: dict[str, str]


@dataclass
class ProfilePushResult:
    accounts_changed: int = 0
    accounts_unchanged: int = 0
    accounts_without_profile: int = 0
    profile_updates: int = 0
    group_updates: int = 0
    batches: dict[str, int] = field(default_factory=dict)


class ProfilePusher:
    """Sends changed score properties and records them in the ledger once confirmed."""

    def __init__(self, session: Session, settings: MixpanelSettings, consumer: BatchConsumer):
        if not settings.project_token:
            raise FatalError("mixpanel project_token is needed for profile updates")
        self.session = session
        self.settings = settings
        self.consumer = consumer
        self.mp = Mixpanel(settings.project_token, consumer=consumer)
        self.enqueued = dict.fromkeys(consumer.sent, 0)
        self.pending: deque[_Pending] = deque()
        self.ledger: dict[tuple[int, str], PushLedger] = {}

    def run(self) -> ProfilePushResult:
        result = ProfilePushResult()
        scores = latest_scores(self.session)
        for row in self.session.scalars(
            select(PushLedger).where(PushLedger.destination == DESTINATION)
        ):
            self.ledger[(row.account_id, row.field)] = row
        targets = self._targets(list(scores))
        groups = self._groups(list(scores))
        for account_id in sorted(scores):
            distinct_ids = targets.get(account_id, [])
            group_id = groups.get(account_id)
            if not distinct_ids and group_id is None:
                result.accounts_without_profile += 1
                continue
            changed: dict[str, Any] = {}
            hashes: dict[str, str] = {}
            for name, value in scores[account_id].items():
                digest = _value_hash(value, distinct_ids, group_id)
                known = self.ledger.get((account_id, name))
                if known is None or known.value_hash != digest:
                    changed[PROFILE_PROPERTIES[name]] = value
                    hashes[name] = digest
            if not changed:
                result.accounts_unchanged += 1
                continue
            result.accounts_changed += 1
            for distinct_id in distinct_ids:
                self.mp.people_set(distinct_id, changed, meta={"$ignore_time": True, "$ip": 0})
                self.enqueued["people"] += 1
                result.profile_updates += 1
            if group_id is not None:
                self.mp.group_set(self.settings.group_key, group_id, changed)
                self.enqueued["groups"] += 1
                result.group_updates += 1
            self.pending.append(_Pending(dict(self.enqueued), account_id, hashes))
            self._acknowledge()
        self.consumer.flush()
        self._acknowledge()
        result.batches = {k: v for k, v in self.consumer.batches.items() if v}
        return result

    def _targets(self, account_ids: list[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for account_id, distinct_id in self.session.execute(
            select(Contact.account_id, Contact.mixpanel_distinct_id)
            .where(Contact.mixpanel_distinct_id.is_not(None), Contact.deleted_at.is_(None))
            .order_by(Contact.account_id, Contact.mixpanel_distinct_id)
        ):
            out.setdefault(account_id, []).append(distinct_id)
        return {k: v for k, v in out.items() if k in set(account_ids)}

    def _groups(self, account_ids: list[int]) -> dict[int, str]:
        if not self.settings.group_key:
            return {}
        wanted = set(account_ids)
        return {
            account_id: key
            for account_id, key in self.session.execute(
                select(Account.id, Account.mixpanel_group_key).where(
                    Account.mixpanel_group_key.is_not(None)
                )
            )
            if account_id in wanted
        }

    def _acknowledge(self) -> None:
        """Record in the ledger every account whose messages Mixpanel has confirmed."""
        wrote = False
        now = datetime.now(UTC)
        while self.pending and all(
            self.consumer.sent[ep] >= n for ep, n in self.pending[0].need.items()
        ):
            done = self.pending.popleft()
            for name, digest in done.hashes.items():
                row = self.ledger.get((done.account_id, name))
                if row is None:
                    row = PushLedger(
                        destination=DESTINATION, account_id=done.account_id, field=name
                    )
                    self.session.add(row)
                    self.ledger[(done.account_id, name)] = row
                row.value_hash, row.pushed_at, row.last_error = digest, now, None
            wrote = True
        if wrote:
            self.session.commit()


def insert_id(kind: str, row_id: int) -> str:
    """Deterministic ``$insert_id`` (32 hex chars: within Mixpanel's 36, alphanumeric)."""
    return hashlib.blake2b(f"cshub:{kind}:{row_id}".encode(), digest_size=16).hexdigest()


@dataclass
class Action:
    kind: str
    row_id: int
    at: datetime
    account_id: int
    contact_id: int | None
    properties: dict[str, Any]


ACTION_EVENTS = {
    "message_sent": "cshub_message_sent",
    "offer_accepted": "cshub_offer_accepted",
    "survey_answered": "cshub_survey_answered",
}


def _actions(session: Session, kind: str, since: datetime | None, limit: int) -> Iterator[Action]:
    if kind == "message_sent":
        q = select(
            OutboxMessage.id,
            OutboxMessage.sent_at,
            OutboxMessage.account_id,
            OutboxMessage.contact_id,
            OutboxMessage.channel,
            OutboxMessage.template,
        ).where(
            OutboxMessage.status == "sent",
            OutboxMessage.sent_at.is_not(None),
            OutboxMessage.account_id.is_not(None),
        )
        ts = OutboxMessage.sent_at
        make = lambda r: {"channel": r[4], "template": r[5]}  # noqa: E731
    elif kind == "offer_accepted":
        q = select(
            Offer.id,
            Offer.resolved_at,
            Offer.account_id,
            null().label("contact_id"),
            Offer.kind,
            Offer.target_plan,
        ).where(Offer.status.in_(OFFER_ACCEPTED), Offer.resolved_at.is_not(None))
        ts = Offer.resolved_at
        make = lambda r: {"offer_kind": r[4], "target_plan": r[5]}  # noqa: E731
    else:
        q = select(
            SurveyResponse.id,
            SurveyResponse.answered_at,
            SurveyResponse.account_id,
            SurveyResponse.contact_id,
            SurveyResponse.kind,
            SurveyResponse.score,
        )
        ts = SurveyResponse.answered_at
        make = lambda r: {"survey_kind": r[4], "score": r[5]}  # noqa: E731
    if since is not None:
        q = q.where(ts >= since)
    for row in session.execute(q.order_by(ts, q.selected_columns[0]).limit(limit)):
        yield Action(kind, row[0], row[1], row[2], row[3], make(row))


def push_actions(
    session: Session, settings: MixpanelSettings, consumer: BatchConsumer, *, limit: int = 50_000
) -> dict[str, int]:
    """Import hub actions newer than the per-kind cursor (minus an overlap) as events."""
    mp = Mixpanel(settings.project_token or "", consumer=consumer)
    state_row = session.scalar(select(SyncState).where(SyncState.stream == ACTIONS_STREAM))
    state = dict(state_row.state or {}) if state_row else {}
    distinct = dict(
        session.execute(
            select(Contact.id, Contact.mixpanel_distinct_id).where(
                Contact.mixpanel_distinct_id.is_not(None)
            )
        ).all()
    )
    groups: dict[int, str] = {}
    if settings.group_key:
        groups = dict(
            session.execute(
                select(Account.id, Account.mixpanel_group_key).where(
                    Account.mixpanel_group_key.is_not(None)
                )
            ).all()
        )
    counts: dict[str, int] = {}
    newest: dict[str, str] = {}
    for kind, event in ACTION_EVENTS.items():
        since = datetime.fromisoformat(state[kind]) - ACTION_OVERLAP if kind in state else None
        counts[kind] = 0
        for action in _actions(session, kind, since, limit):
            at = action.at if action.at.tzinfo else action.at.replace(tzinfo=UTC)
            properties = {
                "$insert_id": insert_id(kind, action.row_id),
                "cshub_account_id": action.account_id,
                **{k: v for k, v in action.properties.items() if v is not None},
            }
            if settings.group_key and action.account_id in groups:
                properties[settings.group_key] = groups[action.account_id]
            mp.import_data(
                None,
                distinct.get(action.contact_id, "") if action.contact_id else "",
                event,
                int(at.timestamp()),
                properties=properties,
            )
            counts[kind] += 1
            newest[kind] = max(newest.get(kind, ""), at.isoformat())
    consumer.flush()
    if newest:
        state.update(newest)
        if state_row is None:
            session.add(SyncState(stream=ACTIONS_STREAM, cursor=None, state=state))
        else:
            state_row.state = state
        session.commit()
    counts["failed"] = consumer.failed["imports"]
    return counts
